"""Computer opponents, one per game kind, beside the rules (see :mod:`games.engines.base`).

Pure like the rules: no Django, no asyncio. games/computer.py runs them off the event loop.
"""

import time

from games.engines.base import Engine
from games.engines.connect_four import ConnectFourEngine

ENGINES: dict[str, Engine] = {ConnectFourEngine.kind: ConnectFourEngine()}

__all__ = ["ENGINES", "Engine", "think"]


def think(kind: str, state, level: int, budget_s: float, seed: int) -> tuple[dict, float]:
    """The engine's move for ``state`` and the seconds it took: what a worker process runs."""
    started = time.perf_counter()
    move = ENGINES[kind].choose(state, level, budget_s, seed)
    return move, time.perf_counter() - started
