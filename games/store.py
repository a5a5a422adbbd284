"""Reading and appending game logs in the database (synchronous; the registry wraps it).

Appending is conditional on the game's ``seq``: of two writers that both read
seq N, exactly one moves it to N+1. That makes the database the arbiter even
when several server processes hold the same game in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from games.identity import hash_token, new_seat_token
from games.match import ABORTED, FINISHED, Event, Match, new_match, replay_with_history
from games.models import Game, GameEvent


class StaleGame(Exception):
    """Someone else appended to this game first; reload and decide again."""


@dataclass
class StoredGame:
    id: str
    kind: str
    token_hashes: dict[int, str]
    events: list[Event]


def create_game(kind: str = "connect4") -> tuple[str, str]:
    """Create a game with seat 1 taken; return its ID and seat 1's token."""
    new_match(kind)  # refuses unknown kinds before anything is written
    token = new_seat_token()
    for _ in range(5):
        try:
            with transaction.atomic():
                game = Game.objects.create(kind=kind, seq=1, seat1_token_hash=hash_token(token))
                GameEvent.objects.create(game=game, seq=1, kind="created", seat=1)
            return game.id, token
        except IntegrityError:  # an ID collision: vanishingly rare, so just draw again
            continue
    raise RuntimeError("could not draw a free game ID")


def load_game(game_id: str) -> StoredGame | None:
    game = Game.objects.filter(pk=game_id).first()
    if game is None:
        return None
    return StoredGame(
        id=game.id,
        kind=game.kind,
        token_hashes={1: game.seat1_token_hash, 2: game.seat2_token_hash},
        events=events_after(game_id, 0),
    )


def events_after(game_id: str, seq: int) -> list[Event]:
    rows = GameEvent.objects.filter(game_id=game_id, seq__gt=seq).order_by("seq")
    return [Event(seq=r.seq, kind=r.kind, seat=r.seat, data=r.data) for r in rows]


def append_event(game_id: str, event: Event, after: Match, token_hash: str = "") -> None:
    """Commit ``event`` if the game is still at ``event.seq - 1``; else raise StaleGame."""
    outcome = after.rules.outcome(after.board)
    fields = {"seq": event.seq, "status": after.status, "updated_at": timezone.now()}
    if after.status == FINISHED:
        fields.update(result="win" if outcome.winner else "draw", winner=outcome.winner, finished_at=timezone.now())
    elif after.status == ABORTED:
        fields.update(result="aborted", finished_at=timezone.now())
    if event.kind == "joined":
        fields["seat2_token_hash"] = token_hash
    with transaction.atomic():
        if not Game.objects.filter(pk=game_id, seq=event.seq - 1).update(**fields):
            raise StaleGame(game_id)
        GameEvent.objects.create(game_id=game_id, seq=event.seq, kind=event.kind, seat=event.seat, data=event.data)


def read_game(game_id: str) -> tuple[Game, Match, list[dict]] | None:
    """A game, its replayed state and its public history, without making it live."""
    game = Game.objects.filter(pk=game_id).first()
    if game is None:
        return None
    match, history = replay_with_history(game.kind, events_after(game_id, 0))
    return game, match, history
