"""Reading and appending game logs in the database (synchronous; the registry wraps it).

Appending is conditional on the game's ``seq``: of two writers that both read
seq N, exactly one moves it to N+1. That makes the database the arbiter even
when several server processes hold the same game in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from games.identity import hash_token, new_seat_token
from games.match import PLAYING, Event, Match, new_match, replay_with_history
from games.models import Game, GameEvent


class StaleGame(Exception):
    """Someone else appended to this game first; reload and decide again."""


@dataclass
class StoredGame:
    id: str
    kind: str
    token_hashes: dict[int, str]
    away_since: dict[int, datetime | None]
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


def create_rematch(old_id: str, new_id: str, kind: str, token_hashes: dict[int, str]) -> None:
    """The rematch: both seats taken, colours swapped, so the same tokens work and the other player starts."""
    game = Game.objects.create(
        id=new_id,
        kind=kind,
        seq=2,
        status=PLAYING,
        seat1_token_hash=token_hashes[2],
        seat2_token_hash=token_hashes[1],
        rematch_of_id=old_id,
    )
    GameEvent.objects.bulk_create(
        [GameEvent(game=game, seq=1, kind="created", seat=1), GameEvent(game=game, seq=2, kind="joined", seat=2)]
    )


def load_game(game_id: str) -> StoredGame | None:
    game = Game.objects.filter(pk=game_id).first()
    if game is None:
        return None
    return StoredGame(
        id=game.id,
        kind=game.kind,
        token_hashes={1: game.seat1_token_hash, 2: game.seat2_token_hash},
        away_since={1: game.seat1_away_since, 2: game.seat2_away_since},
        events=events_after(game_id, 0),
    )


def events_after(game_id: str, seq: int) -> list[Event]:
    rows = GameEvent.objects.filter(game_id=game_id, seq__gt=seq).order_by("seq")
    return [Event(seq=r.seq, kind=r.kind, seat=r.seat, data=r.data) for r in rows]


def append_event(
    game_id: str,
    event: Event,
    after: Match,
    token_hash: str = "",
    also: Callable[[], None] | None = None,
) -> None:
    """Commit ``event`` if the game is still at ``event.seq - 1``; else raise StaleGame.

    ``also`` runs inside the same transaction (a rematch creates its game there).
    """
    fields = {"seq": event.seq, "status": after.status, "updated_at": timezone.now()}
    if after.over:
        fields.update(result=after.result, winner=after.winner, finished_at=timezone.now())
    if event.kind == "joined":
        fields["seat2_token_hash"] = token_hash
    with transaction.atomic():
        if not Game.objects.filter(pk=game_id, seq=event.seq - 1).update(**fields):
            raise StaleGame(game_id)
        GameEvent.objects.create(game_id=game_id, seq=event.seq, kind=event.kind, seat=event.seat, data=event.data)
        if also is not None:
            also()


def set_away(game_id: str, seat: int, since: datetime | None) -> None:
    """Record when a seat's last connection left (None: it is back)."""
    Game.objects.filter(pk=game_id).update(**{f"seat{seat}_away_since": since})


def away_too_long(cutoff: datetime, limit: int = 100) -> list[tuple[str, int]]:
    """Games in play with a seat away since before ``cutoff``: (game ID, absent seat)."""
    found = []
    for seat in (1, 2):
        rows = Game.objects.filter(status=PLAYING, **{f"seat{seat}_away_since__lt": cutoff})
        found += [(game_id, seat) for game_id in rows.values_list("id", flat=True)[:limit]]
    return found


def read_game(game_id: str) -> tuple[Game, Match, list[dict]] | None:
    """A game, its replayed state and its public history, without making it live."""
    game = Game.objects.filter(pk=game_id).first()
    if game is None:
        return None
    match, history = replay_with_history(game.kind, events_after(game_id, 0))
    return game, match, history
