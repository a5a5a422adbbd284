"""The computer's search as a task of Django's tasks framework, for engine workers of their own.

With ``GAME_ENGINE_BACKEND = "tasks"`` a server process enqueues the search here and a worker
(``manage.py db_worker --queue-name engine``, on any machine with the database) runs it; the
server process reads the result and moves through its registry as ever, so the workers only
compute and never change a game. Everything a task carries is JSON.
"""

from django_tasks import task

from games.core import engines


@task(queue_name="engine")
def think(kind: str, moves: list[dict], level: int, budget_s: float, seed: int) -> list:
    """The computer's move in the position those ``moves`` reach, and the seconds it took."""
    state = engines.position(kind, moves)
    move, seconds = engines.think(kind, state, level, budget_s, seed)
    return [move, seconds]
