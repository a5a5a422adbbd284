"""The life of one game as a pure state machine over its event log.

``decide_*`` functions check an action against the current state and return the
event it would add (or raise IllegalMove); ``apply_event`` folds an event into
the state. Replaying a game's log with ``replay`` always gives the same state.
No Django, no asyncio: the registry does the storing and the broadcasting.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from games.rules import RULES, IllegalMove, Rules

WAITING, PLAYING, FINISHED, ABORTED = "waiting", "playing", "finished", "aborted"


@dataclass(frozen=True)
class Event:
    """One entry of a game's log; ``seq`` counts from 1 within the game."""

    seq: int
    kind: str
    seat: int | None = None
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Match:
    """Everything the log says about a game: lifecycle, seats, and the rules' position."""

    kind: str
    board: Any
    seq: int = 0
    status: str = WAITING
    seats: frozenset[int] = frozenset()

    @property
    def rules(self) -> Rules:
        return RULES[self.kind]

    @property
    def over(self) -> bool:
        return self.status in (FINISHED, ABORTED)

    @property
    def turn(self) -> int | None:
        return self.rules.to_move(self.board) if self.status == PLAYING else None

    def summary(self) -> dict:
        """Where the game stands, in the fields every server event repeats."""
        outcome = self.rules.outcome(self.board)
        return {
            "status": self.status,
            "turn": self.turn,
            "winner": outcome.winner,
            "line": [list(cell) for cell in outcome.line],
        }


def new_match(kind: str) -> Match:
    if kind not in RULES:
        raise ValueError(f"unknown game kind {kind!r}")
    return Match(kind=kind, board=RULES[kind].initial_state())


# ----- Deciding: is this action allowed, and what event does it add? ---------


def decide_join(match: Match) -> Event:
    if match.over:
        raise IllegalMove("game_over", "The game is over.")
    if 2 in match.seats:
        raise IllegalMove("seat_taken", "Both seats are taken; you can watch.")
    return Event(seq=match.seq + 1, kind="joined", seat=2)


def decide_move(match: Match, seat: int | None, payload: dict) -> Event:
    if seat is None:
        raise IllegalMove("spectator", "Spectators can watch but not play.")
    column = match.rules.parse_move(payload)
    if match.over:
        raise IllegalMove("game_over", "The game is over.")
    if match.status == WAITING:
        raise IllegalMove("not_started", "Wait for a second player to join.")
    _, details = match.rules.apply(match.board, seat, column)
    return Event(seq=match.seq + 1, kind="move", seat=seat, data=details)


def decide_abort(match: Match, reason: str) -> Event:
    if match.over:
        raise IllegalMove("game_over", "The game is over.")
    return Event(seq=match.seq + 1, kind="aborted", data={"reason": reason})


# ----- Applying: fold an event into the state --------------------------------


def apply_event(match: Match, event: Event) -> Match:
    if event.seq != match.seq + 1:
        raise ValueError(f"event {event.seq} does not follow {match.seq}")
    if event.kind == "created":
        return replace(match, seq=event.seq, seats=frozenset({1}))
    if event.kind == "joined":
        return replace(match, seq=event.seq, seats=match.seats | {2}, status=PLAYING)
    if event.kind == "move":
        board, _ = match.rules.apply(match.board, event.seat, event.data["column"])
        status = FINISHED if match.rules.outcome(board).finished else PLAYING
        return replace(match, seq=event.seq, board=board, status=status)
    if event.kind == "aborted":
        return replace(match, seq=event.seq, status=ABORTED)
    raise ValueError(f"unknown event kind {event.kind!r}")


def replay(kind: str, events: list[Event]) -> Match:
    match = new_match(kind)
    for event in events:
        match = apply_event(match, event)
    return match


def replay_with_history(kind: str, events: list[Event]) -> tuple[Match, list[dict]]:
    """Replay a log, keeping each event as clients see it."""
    match = new_match(kind)
    history = []
    for event in events:
        match = apply_event(match, event)
        history.append(public_event(event, match))
    return match, history


def public_event(event: Event, after: Match) -> dict:
    """The event as clients see it: what happened, plus where the game stands after it."""
    message = {"type": event.kind, "seq": event.seq, "seat": event.seat, **event.data}
    message.update(after.summary())
    return message


def snapshot(match: Match) -> dict:
    """The whole current state, for a client that arrives or falls too far behind."""
    return {"kind": match.kind, "seq": match.seq, **match.summary(), **match.rules.to_json(match.board)}
