"""The small interface every two-player, turn-based game implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class IllegalMove(Exception):
    """A move the rules refuse; ``code`` is machine-readable, ``message`` is for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Outcome:
    """How a position stands: still going, won by a seat, or drawn."""

    finished: bool = False
    winner: int | None = None
    line: tuple[tuple[int, int], ...] = field(default_factory=tuple)

    @property
    def draw(self) -> bool:
        return self.finished and self.winner is None


class Rules(Protocol):
    """What the server needs from a game: a start, a move, and a way to show the state.

    Seats are numbered 1 and 2; seat 1 moves first. States are immutable values,
    so replaying the same moves always gives an equal state.
    """

    kind: str
    seat_names: dict[int, str]  # what people call each seat, e.g. {1: "Red", 2: "Yellow"}

    def initial_state(self) -> Any: ...

    def parse_move(self, payload: dict) -> Any:
        """Turn the client's move fields into a move, or raise IllegalMove."""

    def apply(self, state: Any, seat: int, move: Any) -> tuple[Any, dict]:
        """Return the new state and the move's public details, or raise IllegalMove."""

    def to_move(self, state: Any) -> int | None:
        """The seat whose turn it is, or None when the game is over."""

    def outcome(self, state: Any) -> Outcome: ...

    def moves_made(self, state: Any) -> int: ...

    def to_json(self, state: Any) -> dict:
        """The state as JSON-safe primitives, for clients and the admin."""
