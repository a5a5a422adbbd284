"""The life of one game as a pure state machine over its event log.

``decide_*`` functions check an action against the current state and return the
event it would add (or raise IllegalMove); ``apply_event`` folds an event into
the state. Replaying a game's log with ``replay`` always gives the same state.
No Django, no asyncio: the registry does the storing and the broadcasting.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from games.core import clock as clocks
from games.core.clock import Clock, TimeControl
from games.core.engines import ENGINES
from games.core.rules import RULES, IllegalMove, Rules

WAITING, PLAYING, FINISHED, ABORTED = "waiting", "playing", "finished", "aborted"
# Why a game was aborted, for programs: the ``code`` of its ``aborted`` event (``reason`` says it for people).
PLAYER, OPERATOR, BOTH_LEFT, EXPIRED, FIRST_MOVE = "player", "operator", "both_left", "expired", "first_move"
MOVE_ID_MAX_LENGTH = 64


class TimeUp(Exception):
    """The mover's time ran out before its move arrived: the game ends on time instead."""


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
    result: str | None = None  # win, draw, resigned, abandoned, timeout or aborted, once over
    winner: int | None = None
    move_ids: dict[tuple[int, str], int] = field(default_factory=dict)  # (seat, move ID) -> seq
    rematch_offers: frozenset[int] = frozenset()
    rematch_id: str | None = None
    clock: Clock | None = None  # None: an untimed game
    outages: frozenset[int] = frozenset()  # the outages (by their start, in ms) whose time was given back
    computer: tuple[int, int] | None = None  # (seat, level) of the computer opponent, if there is one

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

    @property
    def free_seat(self) -> int | None:
        """The seat a join takes while the game waits: the one its creator left free."""
        if self.status != WAITING:
            return None
        return next((seat for seat in (1, 2) if seat not in self.seats), None)

    @property
    def computer_seat(self) -> int | None:
        return self.computer[0] if self.computer is not None else None

    @property
    def computer_to_move(self) -> bool:
        return self.computer is not None and self.turn == self.computer[0]

    @property
    def deadline_ms(self) -> int | None:
        """When the side to move runs out (or misses its first move); None if no clock runs."""
        return self.clock.deadline_ms if self.clock is not None and not self.over else None

    def summary(self, now_ms: int | None = None) -> dict:
        """Where the game stands, in the fields every server event repeats; the clocks as at ``now_ms``."""
        turn = self.turn
        return {
            "status": self.status,
            "turn": turn,
            "winner": self.winner,
            "result": self.result,
            "line": [list(cell) for cell in self.rules.outcome(self.board).line],
            "clock": None if self.clock is None else self.clock.to_json(turn, now_ms),
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


def decide_join(match: Match, now_ms: int = 0) -> Event:
    """The free seat taken at ``now_ms``: in a timed game, the first move's limit starts then."""
    _require_live(match)
    seat = match.free_seat
    if seat is None:
        raise IllegalMove("seat_taken", "Both seats are taken; you can watch.")
    return Event(seq=match.seq + 1, kind="joined", seat=seat, data={"at": now_ms} if match.clock else {})


def decide_move(match: Match, seat: int | None, payload: dict, now_ms: int = 0) -> Event:
    """A move received at ``now_ms``; in a timed game, TimeUp if the mover's time had run out."""
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
    if match.clock is not None:
        if match.clock.expired(now_ms):
            raise TimeUp()
        details["at"] = now_ms
        details["clocks"] = list(clocks.charge(match.clock, seat, now_ms))
    return Event(seq=match.seq + 1, kind="move", seat=seat, data=details)


def decide_flag(match: Match, now_ms: int) -> Event:
    """The side to move's time is up: it loses on time, or, on a first move, the game is called off."""
    _require_live(match)
    if match.clock is None or match.status != PLAYING:
        raise IllegalMove("untimed" if match.clock is None else "not_started", "No clock is running.")
    if not match.clock.expired(now_ms):
        raise IllegalMove("time_left", "The player still has time.")
    seat = match.turn
    if match.clock.first_move:
        reason = f"{match.name(seat)} did not make a first move in time."
        return decide_abort(match, reason, FIRST_MOVE)
    return Event(seq=match.seq + 1, kind="timeout", seat=seat, data={"at": now_ms})


def decide_give_back(match: Match, outage_from_ms: int, outage_to_ms: int) -> Event:
    """Give the side to move the part of an outage (no server serving) that its clock ran through.
    Each outage is given back once, however many processes find it."""
    _require_live(match)
    if match.clock is None or match.clock.deadline_ms is None:
        raise IllegalMove("untimed", "No clock is running.")
    if outage_from_ms in match.outages:
        raise IllegalMove("already_given_back", "That outage has been given back already.")
    seat = match.turn
    started = match.clock.turn_started_ms(seat)
    credit = outage_to_ms - max(outage_from_ms, started)
    if credit <= 0:
        raise IllegalMove("nothing_to_give_back", "The clock did not run during that outage.")
    given = {"1": 0, "2": 0, str(seat): credit}
    data = {"at": outage_to_ms, "outage_from": outage_from_ms, "given_back_ms": given}
    return Event(seq=match.seq + 1, kind="clock_credit", data=data)


def decide_computer_move(match: Match, seq: int, payload: dict, now_ms: int = 0) -> Event:
    """The computer's move for the turn it was asked about (the game at ``seq``); refused with
    ``stale`` once that turn has passed (another process moved for it, the game ended)."""
    if match.computer is None:
        raise IllegalMove("no_computer", "Nobody here is the computer.")
    if match.seq != seq or not match.computer_to_move:
        raise IllegalMove("stale", "The computer's turn has passed.")
    return decide_move(match, match.computer[0], payload, now_ms)


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
    if other(seat) in match.rematch_offers or other(seat) == match.computer_seat:  # the computer always agrees
        return Event(seq=match.seq + 1, kind="rematch", seat=seat, data={"game_id": new_game_id})
    return Event(seq=match.seq + 1, kind="rematch_offered", seat=seat)


# ----- Applying: fold an event into the state --------------------------------


def _finished(match: Match, seq: int, result: str, winner: int | None, flagged: int | None = None) -> Match:
    clock = None if match.clock is None else clocks.stop(match.clock, flagged)
    return replace(match, seq=seq, status=FINISHED, result=result, winner=winner, clock=clock)


def _after_move(match: Match, event: Event) -> Clock | None:
    """The clock once this move is in: the mover's time as the event recorded it, the next seat's running."""
    if match.clock is None:
        return None
    remaining = tuple(event.data["clocks"])
    first = match.rules.moves_made(match.board) < 2  # the next seat has not moved yet
    return clocks.after_move(match.clock, remaining, match.turn, event.data["at"], first)


def apply_event(match: Match, event: Event) -> Match:
    if event.seq != match.seq + 1:
        raise ValueError(f"event {event.seq} does not follow {match.seq}")
    kind, seat, seq = event.kind, event.seat, event.seq
    if kind == "created":
        control = event.data.get("clock")
        clock = None if control is None else clocks.new_clock(TimeControl.from_data(control))
        computer = event.data.get("computer")
        computer = None if computer is None else (computer["seat"], computer["level"])
        # The creator's seat: 1 unless they chose Yellow (older logs always say 1).
        return replace(match, seq=seq, seats=frozenset({seat or 1}), clock=clock, computer=computer)
    if kind == "joined":
        clock = None if match.clock is None else clocks.start(match.clock, event.data["at"])
        return replace(match, seq=seq, seats=match.seats | {seat or 2}, status=PLAYING, clock=clock)
    if kind == "move":
        board, _ = match.rules.apply(match.board, seat, event.data["column"])
        move_ids = match.move_ids
        if "move_id" in event.data:
            move_ids = {**move_ids, (seat, event.data["move_id"]): seq}
        match = replace(match, seq=seq, board=board, move_ids=move_ids)
        match = replace(match, clock=_after_move(match, event))
        outcome = match.rules.outcome(board)
        if outcome.finished:
            return _finished(match, seq, "win" if outcome.winner else "draw", outcome.winner)
        return match
    if kind == "timeout":
        return _finished(match, seq, "timeout", other(seat), flagged=seat)
    if kind == "clock_credit":
        credit = sum(event.data["given_back_ms"].values())
        outages = match.outages | {event.data["outage_from"]}
        return replace(match, seq=seq, clock=clocks.give_back(match.clock, credit), outages=outages)
    if kind == "resigned":
        return _finished(match, seq, "resigned", other(seat))
    if kind == "abandoned":
        return _finished(match, seq, "abandoned", other(seat))
    if kind == "aborted":
        clock = None if match.clock is None else clocks.stop(match.clock)
        return replace(match, seq=seq, status=ABORTED, result="aborted", clock=clock)
    if kind == "rematch_offered":
        return replace(match, seq=seq, rematch_offers=match.rematch_offers | {seat})
    if kind == "rematch":
        return replace(match, seq=seq, rematch_offers=frozenset({1, 2}), rematch_id=event.data["game_id"])
    raise ValueError(f"unknown event kind {kind!r}")


def created_data(control: TimeControl | None, computer: tuple[int, int] | None = None) -> dict:
    """The ``created`` event's fields: the time control, if the game has one; the computer's
    seat and level, if one of the players is the computer."""
    data = {} if control is None else {"clock": control.to_data()}
    if computer is not None:
        data["computer"] = {"seat": computer[0], "level": computer[1]}
    return data


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
    message.update(after.summary(event.data.get("at")))
    return message


def abort_code(match: Match, history: list[dict]) -> str | None:
    """Why an aborted game was aborted, read from its history (not kept in Match: every move copies that)."""
    if match.status != ABORTED:
        return None
    return next((event.get("code") for event in reversed(history) if event["type"] == "aborted"), None)


def computer_json(match: Match) -> dict | None:
    """The computer opponent as clients see it: its seat, its level and what the level is called."""
    if match.computer is None:
        return None
    seat, level = match.computer
    return {"seat": seat, "level": level, "name": ENGINES[match.kind].levels[level]}


def snapshot(match: Match, history: list[dict], now_ms: int | None = None) -> dict:
    """The whole current state, for a client that arrives or falls too far behind; the clocks as at ``now_ms``."""
    return {
        "kind": match.kind,
        "seq": match.seq,
        **match.summary(now_ms),
        "rematch_offers": sorted(match.rematch_offers),
        "rematch_id": match.rematch_id,
        "free_seat": match.free_seat,
        "abort_code": abort_code(match, history),
        "computer": computer_json(match),
        **match.rules.to_json(match.board),
    }
