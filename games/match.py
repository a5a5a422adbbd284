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
# Why a game was aborted, for programs: the ``code`` of its ``aborted`` event (``reason`` says it for people).
PLAYER, OPERATOR, BOTH_LEFT, EXPIRED = "player", "operator", "both_left", "expired"
MOVE_ID_MAX_LENGTH = 64


class AlreadyApplied(Exception):
    """A move resent with a move ID the log already has: acknowledge it, don't apply it again."""

    def __init__(self, seq: int):
        super().__init__(seq)
        self.seq = seq


@dataclass(frozen=True)
class Event:
    """One entry of a game's log; ``seq`` counts from 1 within the game."""

    seq: int
    kind: str
    seat: int | None = None
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Match:
    """Everything the log says about a game: lifecycle, seats, result, and the rules' position."""

    kind: str
    board: Any
    seq: int = 0
    status: str = WAITING
    seats: frozenset[int] = frozenset()
    result: str | None = None  # win, draw, resigned, abandoned or aborted, once over
    winner: int | None = None
    move_ids: dict[tuple[int, str], int] = field(default_factory=dict)  # (seat, move ID) -> seq
    rematch_offers: frozenset[int] = frozenset()
    rematch_id: str | None = None

    @property
    def rules(self) -> Rules:
        return RULES[self.kind]

    @property
    def over(self) -> bool:
        return self.status in (FINISHED, ABORTED)

    @property
    def turn(self) -> int | None:
        return self.rules.to_move(self.board) if self.status == PLAYING else None

    def name(self, seat: int) -> str:
        return self.rules.seat_names[seat]

    def summary(self) -> dict:
        """Where the game stands, in the fields every server event repeats."""
        return {
            "status": self.status,
            "turn": self.turn,
            "winner": self.winner,
            "result": self.result,
            "line": [list(cell) for cell in self.rules.outcome(self.board).line],
        }


def new_match(kind: str) -> Match:
    if kind not in RULES:
        raise ValueError(f"unknown game kind {kind!r}")
    return Match(kind=kind, board=RULES[kind].initial_state())


def other(seat: int) -> int:
    return 3 - seat


# ----- Deciding: is this action allowed, and what event does it add? ---------


def _require_player(seat: int | None) -> int:
    if seat is None:
        raise IllegalMove("spectator", "Spectators can watch but not play.")
    return seat


def _require_live(match: Match) -> None:
    if match.over:
        raise IllegalMove("game_over", "The game is over.")


def parse_move_id(payload: dict) -> str | None:
    move_id = payload.get("move_id")
    if move_id is None:
        return None
    if not isinstance(move_id, str) or not 1 <= len(move_id) <= MOVE_ID_MAX_LENGTH:
        raise IllegalMove("bad_field", f"'move_id' must be a string of 1 to {MOVE_ID_MAX_LENGTH} characters.")
    return move_id


def decide_join(match: Match) -> Event:
    _require_live(match)
    if 2 in match.seats:
        raise IllegalMove("seat_taken", "Both seats are taken; you can watch.")
    return Event(seq=match.seq + 1, kind="joined", seat=2)


def decide_move(match: Match, seat: int | None, payload: dict) -> Event:
    seat = _require_player(seat)
    column = match.rules.parse_move(payload)
    move_id = parse_move_id(payload)
    if move_id is not None and (seat, move_id) in match.move_ids:
        raise AlreadyApplied(match.move_ids[seat, move_id])
    _require_live(match)
    if match.status == WAITING:
        raise IllegalMove("not_started", "Wait for a second player to join.")
    _, details = match.rules.apply(match.board, seat, column)
    if move_id is not None:
        details["move_id"] = move_id
    return Event(seq=match.seq + 1, kind="move", seat=seat, data=details)


def decide_resign(match: Match, seat: int | None) -> Event:
    seat = _require_player(seat)
    _require_live(match)
    if match.status == WAITING:
        raise IllegalMove("not_started", "Nobody has joined yet; abort the game instead.")
    return Event(seq=match.seq + 1, kind="resigned", seat=seat)


def decide_abort(match: Match, reason: str, code: str = OPERATOR, seat: int | None = None) -> Event:
    """An operator may abort any game; a player only one that has not really begun."""
    _require_live(match)
    if seat is not None and match.rules.moves_made(match.board) >= 2:
        raise IllegalMove("too_late", "Both players have moved; resign instead.")
    return Event(seq=match.seq + 1, kind="aborted", seat=seat, data={"reason": reason, "code": code})


def decide_player_abort(match: Match, seat: int | None) -> Event:
    seat = _require_player(seat)
    return decide_abort(match, f"{match.name(seat)} aborted the game.", PLAYER, seat=seat)


def decide_expire(match: Match) -> Event:
    """Nobody joined in time: the server calls the game off. Refused once anyone has joined,
    so a join that wins the race against the sweeper keeps the game."""
    _require_live(match)
    if match.status != WAITING:
        raise IllegalMove("not_waiting", "Someone joined; the game no longer expires.")
    return decide_abort(match, "Nobody joined in time.", EXPIRED)


def decide_abandon(match: Match, absent: int) -> Event:
    """The absent seat loses: claimed by the opponent, or by the server after the long limit."""
    if match.status != PLAYING:
        raise IllegalMove("game_over" if match.over else "not_started", "Only a game in play can be abandoned.")
    return Event(seq=match.seq + 1, kind="abandoned", seat=absent)


def decide_rematch(match: Match, seat: int | None, new_game_id: str) -> Event:
    """Offer a rematch; the second offer agrees, and names the new game."""
    seat = _require_player(seat)
    if not match.over:
        raise IllegalMove("not_over", "Finish this game first.")
    if match.seats != {1, 2}:
        raise IllegalMove("no_opponent", "Nobody joined this game; start a new one.")
    if match.rematch_id:
        raise IllegalMove("rematch_exists", "The rematch has already started.")
    if seat in match.rematch_offers:
        raise IllegalMove("already_offered", "You have offered a rematch; waiting for your opponent.")
    if other(seat) in match.rematch_offers:
        return Event(seq=match.seq + 1, kind="rematch", seat=seat, data={"game_id": new_game_id})
    return Event(seq=match.seq + 1, kind="rematch_offered", seat=seat)


# ----- Applying: fold an event into the state --------------------------------


def _finished(match: Match, seq: int, result: str, winner: int | None) -> Match:
    return replace(match, seq=seq, status=FINISHED, result=result, winner=winner)


def apply_event(match: Match, event: Event) -> Match:
    if event.seq != match.seq + 1:
        raise ValueError(f"event {event.seq} does not follow {match.seq}")
    kind, seat, seq = event.kind, event.seat, event.seq
    if kind == "created":
        return replace(match, seq=seq, seats=frozenset({1}))
    if kind == "joined":
        return replace(match, seq=seq, seats=match.seats | {2}, status=PLAYING)
    if kind == "move":
        board, _ = match.rules.apply(match.board, seat, event.data["column"])
        move_ids = match.move_ids
        if "move_id" in event.data:
            move_ids = {**move_ids, (seat, event.data["move_id"]): seq}
        match = replace(match, seq=seq, board=board, move_ids=move_ids)
        outcome = match.rules.outcome(board)
        if outcome.finished:
            return _finished(match, seq, "win" if outcome.winner else "draw", outcome.winner)
        return match
    if kind == "resigned":
        return _finished(match, seq, "resigned", other(seat))
    if kind == "abandoned":
        return _finished(match, seq, "abandoned", other(seat))
    if kind == "aborted":
        return replace(match, seq=seq, status=ABORTED, result="aborted")
    if kind == "rematch_offered":
        return replace(match, seq=seq, rematch_offers=match.rematch_offers | {seat})
    if kind == "rematch":
        return replace(match, seq=seq, rematch_offers=frozenset({1, 2}), rematch_id=event.data["game_id"])
    raise ValueError(f"unknown event kind {kind!r}")


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


def abort_code(match: Match, history: list[dict]) -> str | None:
    """Why an aborted game was aborted, read from its history (not kept in Match: every move copies that)."""
    if match.status != ABORTED:
        return None
    return next((event.get("code") for event in reversed(history) if event["type"] == "aborted"), None)


def snapshot(match: Match, history: list[dict]) -> dict:
    """The whole current state, for a client that arrives or falls too far behind."""
    return {
        "kind": match.kind,
        "seq": match.seq,
        **match.summary(),
        "rematch_offers": sorted(match.rematch_offers),
        "rematch_id": match.rematch_id,
        "abort_code": abort_code(match, history),
        **match.rules.to_json(match.board),
    }
