"""Pairing strangers, decided by the database (synchronous; games/live/seeking.py runs it off the loop).

A seek is a row. Every pairing happens in a transaction that first locks its time control's
``Pool`` row, so pairings in one pool take turns across all processes, and each sees every
seek committed before it: two seekers arriving together on two processes are paired with
each other, and no seek is paired twice (its row is locked and re-checked as it is updated).

A seek is *pairable* while it waits with a socket open: ``away_since`` is None and a process
holding its socket refreshed ``seen_at`` recently (a process that dies stops refreshing). Every
change that can make a seek pairable (created, its socket back, a heartbeat) is followed by a
pairing attempt in its pool, so no two pairable seeks are left waiting in one pool.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q

from games.core.clock import TimeControl, parse_time_control
from games.core.identity import new_game_id, new_seek_id, token_matches
from games.models import Pool, Seek
from games.storage import store

WAITING, PAIRED = Seek.Status.WAITING, Seek.Status.PAIRED
CANCELLED, EXPIRED, REMOVED = Seek.Status.CANCELLED, Seek.Status.EXPIRED, Seek.Status.REMOVED
KIND = "connect4"  # the game kind seekers are paired into (the only one today)


class AlreadySeeking(Exception):
    """This owner has a seek waiting already (a bot must cancel it, or let it expire, first)."""

    def __init__(self, seek_id: str):
        super().__init__(seek_id)
        self.seek_id = seek_id


@dataclass(frozen=True)
class Ticket:
    """Where a seek stands, as its owner may see it."""

    id: str
    time_control: str
    status: str
    created_at: datetime
    token_hash: str
    game_id: str | None
    seat: int | None

    @classmethod
    def of(cls, seek: Seek) -> Ticket:
        return cls(seek.id, seek.time_control, seek.status, seek.created_at, seek.token_hash, seek.game_id, seek.seat)


@dataclass(frozen=True)
class Pairing:
    """Two seeks put into a new game: each seek's ID with the seat it got."""

    game_id: str
    time_control: str
    seats: dict[str, int]


def fresh_after(now: datetime) -> datetime:
    """Heartbeats older than this mean the process holding the seeker's socket has gone."""
    return now - timedelta(seconds=3 * settings.GAME_SWEEP_INTERVAL_SECONDS)


def _pairable(now: datetime) -> Q:
    return Q(status=WAITING, away_since__isnull=True, seen_at__gte=fresh_after(now))


# The statements every seek runs are written out: building them with the ORM cost several
# times running them (a seek a few milliseconds, at a hundred seeks a second).
_SEEK, _POOL = Seek._meta.db_table, Pool._meta.db_table
_TICKET_COLUMNS = "id, time_control, status, created_at, token_hash, game_id, seat"


def _sql(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _ticket(row: tuple) -> Ticket:
    seek_id, time_control, status, created_at, token_hash, game_id, seat = row
    return Ticket(seek_id, time_control, status, store.from_db(created_at), token_hash, game_id, seat)


def _for_update() -> str:
    """Row locks where there are any (PostgreSQL); SQLite's write lock covers the transaction."""
    return " FOR UPDATE" if connection.vendor == "postgresql" else ""


def _lock(time_control: str) -> list[tuple[str, list]]:
    """The statements that take the pool's lock for the rest of the transaction: the row's lock on
    PostgreSQL; on SQLite the insert (which does nothing once the row exists) takes the write lock."""
    statements = [(f"INSERT INTO {_POOL} (time_control) VALUES (%s) ON CONFLICT DO NOTHING", [time_control])]
    if connection.vendor == "postgresql":
        statements.append((f"SELECT 1 FROM {_POOL} WHERE time_control = %s FOR UPDATE", [time_control]))
    return statements


def _longest_waiting(time_control: str, now: datetime) -> tuple[str, list]:
    """The two pairable seeks of the pool that have waited longest, locked."""
    return (
        f"SELECT id, token_hash FROM {_SEEK} WHERE status = %s AND time_control = %s AND away_since IS NULL"
        f" AND seen_at >= %s ORDER BY created_at, id LIMIT 2{_for_update()}",
        [WAITING, time_control, store.to_db(fresh_after(now))],
    )


def _control(name: str) -> TimeControl | None:
    return parse_time_control(name or None, settings.GAME_FIRST_MOVE_SECONDS, settings.GAME_EXTRA_TIME_CONTROLS)


def _pair_two(two: list[tuple[str, str]], time_control: str, now: datetime, now_ms: int) -> Pairing:
    """Put two locked seeks into a new game, colours at random (seat 1, Red, moves first), in one
    round trip. Strangers' games are public: the lobby lists them to watch."""
    two = random.sample(two, 2)
    hashes = {seat: token_hash for seat, (_, token_hash) in enumerate(two, start=1)}
    game_id = new_game_id()  # a collision (one in 10^11) fails the transaction, which is then retried
    statements = store.started_game_statements(game_id, KIND, hashes, _control(time_control), now_ms, public=True)
    statements += [
        (
            f"UPDATE {_SEEK} SET status = %s, game_id = %s, seat = %s, ended_at = %s"
            " WHERE id = %s AND status = %s RETURNING id",
            [PAIRED, game_id, seat, store.to_db(now), seek_id, WAITING],
        )
        for seat, (seek_id, _) in enumerate(two, start=1)
    ]
    if not all(store.run_statements(statements)[-2:]):  # cannot happen while the rows are locked
        raise RuntimeError(f"a seek of {two} changed while locked")
    return Pairing(game_id, time_control, {seek_id: seat for seat, (seek_id, _) in enumerate(two, start=1)})


def _pair(time_control: str, now: datetime, now_ms: int) -> list[Pairing]:
    """Pair the pool's pairable seeks two by two, longest waiting first. Caller holds the pool's lock."""
    pairings = []
    while len(two := _sql(*_longest_waiting(time_control, now))) == 2:
        pairings.append(_pair_two(two, time_control, now, now_ms))
    return pairings


def _retried(transact):
    """Run ``transact`` in a transaction, again if it met an integrity error: a game ID drawn
    twice, or the same owner's other seek made at the same moment in another pool."""
    for attempt in range(3):
        try:
            with transaction.atomic():
                return transact()
        except IntegrityError:
            if attempt == 2:
                raise


def seek(
    owner: str,
    address: str,
    time_control: str,
    token_hash: str,
    replace: bool,
    now: datetime,
    now_ms: int,
    request_key: store.RequestKeyRecord | None = None,
) -> tuple[Ticket, list[Pairing], str | None]:
    """A new seek, paired at once if someone pairable waits in its pool.

    The owner's seek already waiting is cancelled if ``replace`` (a browser choosing again),
    else AlreadySeeking is raised. Returns the new seek as it ends up, the pairings made, and
    the ID of the seek it replaced, if any. Three round trips at most before the commit. With
    ``request_key`` the key is recorded with the seek, or store.AlreadyMade if it was already."""
    moment = store.to_db(now)

    def transact():
        owners = _lock(time_control)
        if request_key is not None:
            owners.append(store.request_key_lookup(request_key.key))
        owners.append((f"SELECT id FROM {_SEEK} WHERE owner = %s AND status = %s{_for_update()}", [owner, WAITING]))
        found = store.run_statements(owners)
        existing = found[-1]
        if request_key is not None and found[-2]:
            raise store.AlreadyMade(*found[-2][0])
        statements, replaced = [], None
        if existing:
            if not replace:
                raise AlreadySeeking(existing[0][0])
            replaced = existing[0][0]
            statements.append(
                (
                    f"UPDATE {_SEEK} SET status = %s, ended_at = %s WHERE id = %s AND status = %s",
                    [CANCELLED, moment, replaced, WAITING],
                )
            )
        seek_id = new_seek_id()
        statements.append(
            (
                f"INSERT INTO {_SEEK} (id, time_control, owner, address, token_hash, status, created_at, seen_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [seek_id, time_control, owner, address, token_hash, WAITING, moment, moment],
            )
        )
        if request_key is not None:
            statements.append(store.request_key_statement(request_key, seek_id, moment))
        statements.append(_longest_waiting(time_control, now))
        two = store.run_statements(statements)[-1]
        waiting = Ticket(seek_id, time_control, WAITING, now, token_hash, None, None)
        # Before this seek the pool had at most one pairable seek: at most one pair forms.
        if len(two) < 2:
            return waiting, [], replaced
        pairing = _pair_two(two, time_control, now, now_ms)
        if seek_id not in pairing.seats:  # two others paired (after a heartbeat): this one waits
            return waiting, [pairing], replaced
        mine = dataclasses.replace(waiting, status=PAIRED, game_id=pairing.game_id, seat=pairing.seats[seek_id])
        return mine, [pairing], replaced

    return _retried(transact)


class WrongToken(Exception):
    """The token offered is not the seek's: nothing was changed."""


def arrive(seek_id: str, token: str, now: datetime, now_ms: int) -> tuple[Ticket | None, list[Pairing]]:
    """A socket of the seeker, proving it holds ``token``, is open (again): the seek is pairable,
    and paired if someone waits. None for an unknown seek; WrongToken changes nothing.

    A seek that never went away was pairable all along, so it was offered a partner when it
    became so: nothing is written for it (most sockets say hello right after the seek is made)."""
    rows = _sql(f"SELECT {_TICKET_COLUMNS}, away_since, seen_at FROM {_SEEK} WHERE id = %s", [seek_id])
    if not rows:
        return None, []
    found, away_since, seen_at = _ticket(rows[0][:7]), rows[0][7], store.from_db(rows[0][8])
    if not token_matches(token, found.token_hash):
        raise WrongToken(seek_id)
    if found.status != WAITING or (away_since is None and seen_at >= fresh_after(now)):
        return found, []

    def transact():
        statements = _lock(found.time_control)
        statements.append(
            (
                f"UPDATE {_SEEK} SET away_since = NULL, seen_at = %s WHERE id = %s AND status = %s",
                [store.to_db(now), seek_id, WAITING],
            )
        )
        store.run_statements(statements)
        return _pair(found.time_control, now, now_ms)

    pairings = _retried(transact)
    return ticket(seek_id), pairings


def leave(seek_ids: list[str], now: datetime) -> None:
    """The seekers' last sockets here closed: they keep their place, but nobody is paired with them
    until they are back (within the grace period)."""
    Seek.objects.filter(pk__in=seek_ids, status=WAITING, away_since__isnull=True).update(away_since=now)


def heartbeat(seek_ids: list[str], now: datetime) -> None:
    """The seekers' sockets are open on this process: they stay pairable."""
    if seek_ids:
        Seek.objects.filter(pk__in=seek_ids, status=WAITING).update(seen_at=now, away_since=None)


def pair_waiting(now: datetime, now_ms: int) -> list[Pairing]:
    """Pair whatever can be paired in every pool (after heartbeats made seeks pairable again)."""
    pools = (
        Seek.objects.filter(_pairable(now))
        .values("time_control")
        .annotate(seekers=Count("id"))
        .filter(seekers__gte=2)
        .values_list("time_control", flat=True)
    )
    pairings = []
    for time_control in list(pools):

        def transact(time_control=time_control):
            store.run_statements(_lock(time_control))
            return _pair(time_control, now, now_ms)

        pairings += _retried(transact)
    return pairings


def end(seek_id: str, status: str, now: datetime) -> Ticket | None:
    """Cancel (the seeker) or remove (an operator) a waiting seek; a seek paired first stays paired."""
    Seek.objects.filter(pk=seek_id, status=WAITING).update(status=status, ended_at=now)
    found = Seek.objects.filter(pk=seek_id).first()
    return Ticket.of(found) if found else None


def expire(now: datetime, limit: int = 100) -> list[str]:
    """Seeks whose seeker has been gone longer than the grace period leave the pool."""
    cutoff = now - timedelta(seconds=settings.GAME_SEEK_GRACE_SECONDS)
    gone = Q(away_since__lt=cutoff) | Q(seen_at__lt=cutoff)
    ids = list(Seek.objects.filter(gone, status=WAITING).values_list("id", flat=True)[:limit])
    expired = []
    for seek_id in ids:
        if Seek.objects.filter(gone, pk=seek_id, status=WAITING).update(status=EXPIRED, ended_at=now):
            expired.append(seek_id)
    return expired


def ticket(seek_id: str) -> Ticket | None:
    rows = _sql(f"SELECT {_TICKET_COLUMNS} FROM {_SEEK} WHERE id = %s", [seek_id])
    return _ticket(rows[0]) if rows else None


def tickets(seek_ids: list[str]) -> list[Ticket]:
    return [Ticket.of(seek) for seek in Seek.objects.filter(pk__in=seek_ids)]


def waiting_counts(now: datetime) -> dict[str, int]:
    """Seekers waiting per time control with a socket open (the lobby shows them)."""
    rows = Seek.objects.filter(_pairable(now)).values("time_control").annotate(seekers=Count("id"))
    return {row["time_control"]: row["seekers"] for row in rows}
