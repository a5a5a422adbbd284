"""The small interface a computer opponent implements, beside the game's :class:`Rules`."""

from __future__ import annotations

from typing import Any, Protocol


class Engine(Protocol):
    """Chooses a move for the side to move. Pure and synchronous: no Django, no asyncio, so it runs
    in a worker process (or a task queue's worker) and the same inputs always give the same move.

    Levels run from 1 (a beginner who blunders) to :attr:`top_level`.
    """

    kind: str  # the game kind it plays, as in ``games.core.rules.RULES``
    levels: dict[int, str]  # level -> what people call it, e.g. {1: "Beginner", ...}

    def choose(self, state: Any, level: int, budget_s: float, seed: int) -> dict:
        """The move's fields as a client would send them (``{"column": 3}``), for the rules to
        check like any other. ``budget_s``: the most thinking time it may take; ``seed`` makes
        its random choices repeatable (another process thinking for the same turn agrees)."""
