"""Computer opponents, one per game kind, beside the rules (see :mod:`games.core.engines.base`).

Pure like the rules: no Django, no asyncio. games/live/computer.py runs them off the event loop.
"""

import os
import signal
import sys
import threading
import time

from games.core.engines.base import Engine
from games.core.engines.connect_four import ConnectFourEngine
from games.core.rules import RULES

ENGINES: dict[str, Engine] = {ConnectFourEngine.kind: ConnectFourEngine()}

__all__ = ["ENGINES", "Engine", "position", "think"]


def think(kind: str, state, level: int, budget_s: float, seed: int) -> tuple[dict, float]:
    """The engine's move for ``state`` and the seconds it took: what a worker process runs."""
    started = time.perf_counter()
    move = ENGINES[kind].choose(state, level, budget_s, seed)
    return move, time.perf_counter() - started


def position(kind: str, moves: list[dict]):
    """The rules' state after ``moves`` (each a move's fields, as in the log), from the start: how a
    worker elsewhere rebuilds the position from what a task queue can carry (JSON)."""
    rules = RULES[kind]
    state = rules.initial_state()
    for fields in moves:
        state, _ = rules.apply(state, rules.to_move(state), rules.parse_move(fields))
    return state


def worker_started(parent: int, niceness: int) -> None:
    """A worker process's first act: yield the processor to the server's sockets (a higher
    ``niceness``: the search takes what they leave), and follow its parent (below)."""
    if niceness:
        os.nice(niceness)
    follow_parent(parent)


def follow_parent(parent: int) -> None:
    """End when the server process ``parent`` that started this worker ends, even by SIGKILL
    (which leaves the pool no chance to stop its workers), and even before this worker was up.
    Linux asks the kernel to tell it; a thread also watches for the parent to change."""
    if sys.platform == "linux":
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    if os.getppid() != parent:  # gone already, while this worker was starting
        os._exit(0)
    threading.Thread(target=watch, name="follow-parent", daemon=True).start()
