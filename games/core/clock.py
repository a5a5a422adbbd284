"""Chess-style clocks for any two-player game: pure arithmetic over times the log records.

Nothing here reads a clock of its own: every function is given the moment it is about
(milliseconds since the epoch, as the server saw it) and the events carry those moments,
so replaying a log always gives the same clocks. The match layer (games/core/match.py) owns a
:class:`Clock` per timed game; the rules of the game itself never see it.

How time is charged:

* Each player's first move has a limit of its own (``first_move_ms``); missing it calls
  the game off. The main clocks do not run before both players have moved once, and the
  first moves earn no increment.
* From then on the side to move's clock runs from the moment the opponent's move was
  accepted to the moment its own move is received; after the move, the increment is added.
* The clock's ``deadline_ms`` is when the side to move runs out (or misses its first move).
  Time given back after an outage moves the deadline later.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# The time controls a player can choose: minutes on each clock, seconds added per move.
PRESETS: dict[str, tuple[int, int]] = {"1+0": (1, 0), "3+2": (3, 2), "5+0": (5, 0), "10+5": (10, 5)}
UNTIMED = "untimed"
# A clock under this is shown to the tenth of a second, and warns the player.
LOW_TIME_MS = 10_000


class BadTimeControl(ValueError):
    """A time control that is not one of the presets."""


@dataclass(frozen=True)
class TimeControl:
    initial_ms: int
    increment_ms: int
    first_move_ms: int

    @property
    def name(self) -> str:
        """ "3+2" (minutes + seconds added); a clock of seconds, as tests use, is "10s+0"."""
        minutes, rest = divmod(self.initial_ms, 60_000)
        main = f"{self.initial_ms // 1000}s" if rest or not minutes else str(minutes)
        return f"{main}+{self.increment_ms // 1000}"

    def to_data(self) -> dict:
        """As stored in the game's ``created`` event."""
        return {"initial_ms": self.initial_ms, "increment_ms": self.increment_ms, "first_move_ms": self.first_move_ms}

    @classmethod
    def from_data(cls, data: dict) -> TimeControl:
        return cls(int(data["initial_ms"]), int(data["increment_ms"]), int(data["first_move_ms"]))


def parse_time_control(name: str | None, first_move_seconds: float, extra: tuple[str, ...] = ()) -> TimeControl | None:
    """A preset's name ("3+2"), or one of the ``extra`` names the server allows (such as "10s+0"
    for tests), as a time control; None or "untimed" for an untimed game."""
    if name is None or name == UNTIMED or name == "":
        return None
    if not isinstance(name, str) or name not in (*PRESETS, *extra):
        raise BadTimeControl(f"'time_control' must be one of: {', '.join([*PRESETS, *extra, UNTIMED])}.")
    initial_ms, increment_ms = amounts(name)
    return TimeControl(initial_ms, increment_ms, round(first_move_seconds * 1000))


def amounts(name: str) -> tuple[int, int]:
    """The main time and the increment, in milliseconds, that a name says: "3+2" is three minutes
    and two seconds a move, "10s+1" ten seconds and one a move. BadTimeControl if it says neither."""
    main, plus, increment = name.partition("+")
    seconds = main.endswith("s")
    number = main.removesuffix("s")
    if not plus or not number.isdigit() or not increment.isdigit() or int(number) == 0:
        raise BadTimeControl(f"{name!r} is not a time control: write minutes+seconds (3+2) or seconds (10s+0).")
    initial_ms = int(number) * (1000 if seconds else 60_000)
    control = TimeControl(initial_ms, int(increment) * 1000, 0)
    if control.name != name:  # one spelling per clock ("60s+0" is "1+0")
        raise BadTimeControl(f"{name!r} is written {control.name!r}.")
    return initial_ms, int(increment) * 1000


@dataclass(frozen=True)
class Clock:
    """Both players' remaining time, and when the side to move runs out."""

    control: TimeControl
    remaining: tuple[int, int]  # seat 1's and seat 2's main clocks, in ms
    deadline_ms: int | None = None  # None while no clock runs (before play, after the end)
    first_move: bool = False  # the deadline is the side to move's first-move limit

    def left(self, seat: int) -> int:
        return self.remaining[seat - 1]

    def turn_started_ms(self, seat: int) -> int | None:
        """When the side to move's time began to count (None if no clock runs)."""
        if self.deadline_ms is None:
            return None
        return self.deadline_ms - (self.control.first_move_ms if self.first_move else self.left(seat))

    def time_left(self, seat: int, now_ms: int) -> int:
        """What the side to move has at ``now_ms`` before its deadline (never below zero)."""
        if self.deadline_ms is None:
            return self.left(seat)
        return max(0, self.deadline_ms - now_ms)

    def expired(self, now_ms: int) -> bool:
        return self.deadline_ms is not None and now_ms >= self.deadline_ms

    def to_json(self, turn: int | None, now_ms: int | None) -> dict:
        """What clients see; with ``now_ms``, the running clock as it stands then."""
        remaining = {"1": self.left(1), "2": self.left(2)}
        first_move_in = None
        if turn is not None and self.deadline_ms is not None and now_ms is not None:
            if self.first_move:
                first_move_in = self.time_left(turn, now_ms)
            else:
                remaining[str(turn)] = self.time_left(turn, now_ms)
        elif turn is not None and self.first_move:
            first_move_in = self.control.first_move_ms
        return {
            "time_control": self.control.name,
            "initial_ms": self.control.initial_ms,
            "increment_ms": self.control.increment_ms,
            "remaining": remaining,
            "running": turn if self.deadline_ms is not None else None,
            "first_move_in": first_move_in,
        }


def new_clock(control: TimeControl) -> Clock:
    return Clock(control=control, remaining=(control.initial_ms, control.initial_ms))


def start(clock: Clock, at_ms: int) -> Clock:
    """Play begins at ``at_ms``: the first player's first-move limit starts."""
    return replace(clock, deadline_ms=at_ms + clock.control.first_move_ms, first_move=True)


def charge(clock: Clock, seat: int, at_ms: int) -> tuple[int, int]:
    """Both clocks after ``seat`` moves at ``at_ms`` (before the deadline): time used taken off,
    the increment added. A first move costs nothing and earns nothing."""
    if clock.first_move:
        return clock.remaining
    left = clock.deadline_ms - max(at_ms, clock.turn_started_ms(seat)) + clock.control.increment_ms
    remaining = list(clock.remaining)
    remaining[seat - 1] = left
    return remaining[0], remaining[1]


def after_move(clock: Clock, remaining: tuple[int, int], next_seat: int | None, at_ms: int, first: bool) -> Clock:
    """The clock once a move at ``at_ms`` is in: ``next_seat`` (None when the game ended) starts its
    first-move limit if ``first``, else its main clock."""
    if next_seat is None:
        return replace(clock, remaining=remaining, deadline_ms=None, first_move=False)
    budget = clock.control.first_move_ms if first else remaining[next_seat - 1]
    return replace(clock, remaining=remaining, deadline_ms=at_ms + budget, first_move=first)


def give_back(clock: Clock, credit_ms: int) -> Clock:
    """Time returned to the side to move (an outage): its deadline moves later."""
    if clock.deadline_ms is None:
        return clock
    return replace(clock, deadline_ms=clock.deadline_ms + credit_ms)


def stop(clock: Clock, seat: int | None = None) -> Clock:
    """The game is over: no clock runs. ``seat`` ran out, so its clock shows zero."""
    remaining = list(clock.remaining)
    if seat is not None:
        remaining[seat - 1] = 0
    return replace(clock, remaining=(remaining[0], remaining[1]), deadline_ms=None, first_move=False)
