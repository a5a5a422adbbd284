"""Reading and appending game logs in the database (synchronous; the registry wraps it).

Appending is conditional on the game's ``seq``: of two writers that both read
seq N, exactly one moves it to N+1. That makes the database the arbiter even
when several server processes hold the same game in memory.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import DatabaseError, Error, IntegrityError, connection, models, transaction
from django.utils import timezone

from games.core.clock import TimeControl
from games.core.identity import hash_token, new_game_id, new_seat_token
from games.core.match import PLAYING, WAITING, Event, Match, created_data, new_match, replay, replay_with_history
from games.models import Connection, Game, GameEvent, RequestKey, Server

# What the database raises when it could not do what was asked: Django's ``Error`` and all
# its subclasses (OperationalError for a lost connection, a restart or a timeout,
# InterfaceError for a connection already closed, and the rest). Django raises these in
# place of the driver's own exceptions (psycopg's, sqlite3's, its pool's timeout). Memory is
# changed only after a commit has succeeded, so the socket path answers any of them with
# "unavailable" and carries on. StaleGame and ServerGone are not among them: they are
# answers, not failures.
DATABASE_ERRORS = (Error,)


class StaleGame(Exception):
    """Someone else appended to this game first; reload and decide again."""


class ServerGone(Exception):
    """Other processes took this one for dead and removed its rows; it must register again."""


@dataclass
class Presence:
    """Who is connected to a game, across all processes, and since when each absent seat has been away."""

    version: int
    players: dict[int, bool]
    spectators: int
    away_since: dict[int, datetime | None]


@dataclass
class StoredGame:
    id: str
    kind: str
    token_hashes: dict[int, str]
    presence: Presence
    events: list[Event]


# ----- Plain SQL for the statements every connection runs ------------------------
# Loading a game and counting its presence happen for every socket that comes or goes;
# building those statements with the ORM cost several times running them (see
# docs/benchmarks.md), so they are written out. Everything else uses the ORM.
_GAME, _EVENT = Game._meta.db_table, GameEvent._meta.db_table
_CONNECTION, _SERVER = Connection._meta.db_table, Server._meta.db_table
_REQUEST_KEY = RequestKey._meta.db_table
# Rows per INSERT, IDs per IN list: well under SQLite's limit on the parameters of one statement.
_BATCH = 100


def _batches(items: list) -> Iterator[list]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _fetched(cursor)


def _fetched(cursor) -> list[tuple]:
    """The rows the statement just run returned; none for a statement that returns no rows."""
    return cursor.fetchall() if cursor.description else []


def _script(statements: list[tuple[str, list]], writes: bool = True) -> list[list[tuple]]:
    """Run ``statements`` in order as one transaction; the rows each returned (empty for none).

    On PostgreSQL they travel as one message, so they cost one round trip instead of one
    each (the journal thread spends most of its time waiting on round trips); PostgreSQL
    runs such a message as one transaction, and each statement in it still sees what was
    committed before it started, so a row locked by one stays locked for the next. This
    needs psycopg's client-side binding (Django's default); SQLite, in-process, runs them
    one at a time, in a transaction if they write (which on SQLite takes the write lock).
    """
    if not statements:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and not connection.settings_dict["OPTIONS"].get("server_side_binding"):
            cursor.execute(
                ";\n".join(sql for sql, _ in statements), [value for _, params in statements for value in params]
            )
            results = [_fetched(cursor)]
            while cursor.nextset():
                results.append(_fetched(cursor))
            return results
        with transaction.atomic() if writes else contextlib.nullcontext():
            results = []
            for sql, params in statements:
                cursor.execute(sql, params)
                results.append(_fetched(cursor))
            return results


def run_statements(statements: list[tuple[str, list]]) -> list[list[tuple]]:
    """For the other modules that write their statements out (games/storage/pool.py): see ``_script``."""
    return _script(statements)


def to_db(moment: datetime | None):
    return _to_db(moment)


def from_db(moment: datetime | None) -> datetime | None:
    return _from_db(moment)


def _to_db(moment: datetime | None):
    return connection.ops.adapt_datetimefield_value(moment)


def _json_from_db(value) -> dict:
    return value if isinstance(value, dict) else json.loads(value)


def _from_ms(moment_ms: int | None) -> datetime | None:
    return None if moment_ms is None else datetime.fromtimestamp(moment_ms / 1000, UTC)


def _from_db(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC datetimes, PostgreSQL aware ones."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


# Every game starts with a row written here (the columns without a default of None).
_NEW_GAME_COLUMNS = (
    "id",
    "kind",
    "time_control",
    "public",
    "status",
    "result",
    "seq",
    "seat1_token_hash",
    "seat2_token_hash",
    "presence_version",
    "created_at",
    "updated_at",
)
_NEW_GAME_COLUMN_LIST = ", ".join(_NEW_GAME_COLUMNS)
_NEW_GAME_PLACEHOLDERS = ", ".join(["%s"] * len(_NEW_GAME_COLUMNS))


def create_game(
    kind: str = "connect4",
    control: TimeControl | None = None,
    public: bool = False,
    seat: int = 1,
    token: str | None = None,
    request_key: RequestKeyRecord | None = None,
) -> tuple[str, str]:
    """Create a game with the creator in ``seat`` (timed by ``control``, if given; listed in the
    lobby if ``public``); return its ID and the creator's token (``token`` if given). With
    ``request_key`` the key is recorded with the game, or AlreadyMade if it was already."""
    start = new_match(kind)  # refuses unknown kinds before anything is written
    created = Event(seq=1, kind="created", seat=seat, data=created_data(control))
    tc_name = control.name if control else ""
    token = token or new_seat_token()
    hashes = {seat: hash_token(token), 3 - seat: ""}
    for _ in range(5):
        game_id, now = new_game_id(), _to_db(timezone.now())
        statements = [
            (
                f"INSERT INTO {_GAME} ({_NEW_GAME_COLUMN_LIST}) VALUES ({_NEW_GAME_PLACEHOLDERS})",
                [game_id, kind, tc_name, public, WAITING, "", 1, hashes[1], hashes[2], 0, now, now],
            ),
            _insert_event_statement([Append(game_id, created, start)], now),
        ]
        if _made(statements, game_id, request_key, now):
            return game_id, token
    raise RuntimeError("could not draw a free game ID")


# ----- Idempotency keys (games/web/idempotency.py) -------------------------------------


@dataclass(frozen=True)
class RequestKeyRecord:
    key: str
    fingerprint: str


class AlreadyMade(Exception):
    """The call's idempotency key is recorded already: ``resource`` is what the first call made."""

    def __init__(self, resource: str, fingerprint: str):
        super().__init__(resource)
        self.resource, self.fingerprint = resource, fingerprint


def request_key_statement(record: RequestKeyRecord, resource: str, moment) -> tuple[str, list]:
    """Record the key in the transaction that makes ``resource``: a second commit with it fails."""
    return (
        f'INSERT INTO {_REQUEST_KEY} ("key", fingerprint, resource, created_at) VALUES (%s, %s, %s, %s)',
        [record.key, record.fingerprint, resource, moment],
    )


def request_key_lookup(key: str) -> tuple[str, list]:
    return f'SELECT resource, fingerprint FROM {_REQUEST_KEY} WHERE "key" = %s', [key]


def made_with(key: str) -> AlreadyMade | None:
    """What a call with this key made, if one committed."""
    rows = _rows(*request_key_lookup(key))
    return AlreadyMade(*rows[0]) if rows else None


def seats_of(game_id: str) -> tuple[str, str, int | None] | None:
    """A game's kind, seat 1's token hash and the computer's level: what a replayed create answers with."""
    rows = _rows(f"SELECT kind, seat1_token_hash, computer_level FROM {_GAME} WHERE id = %s", [game_id])
    return rows[0] if rows else None


def _made(statements: list, resource: str, request_key: RequestKeyRecord | None, moment) -> bool:
    """Run a new game's statements, with its request key if any: True if committed, False on an
    ID collision (draw again); AlreadyMade if the key was recorded first."""
    if request_key is not None:
        statements = [*statements, request_key_statement(request_key, resource, moment)]
    try:
        _script(statements)
        return True
    except IntegrityError:  # the key taken by a call just before, or an ID collision (vanishingly rare)
        if request_key is not None and (made := made_with(request_key.key)) is not None:
            raise made from None
        return False


def create_rematch(
    old_id: str,
    new_id: str,
    kind: str,
    token_hashes: dict[int, str],
    control: TimeControl | None,
    now_ms: int,
    computer: tuple[int, int] | None = None,
) -> None:
    """The rematch: both seats taken, colours swapped, so the same tokens work and the other player
    starts; the same time control, its first move's limit running from ``now_ms``; listed in the
    lobby if the first game was; the same computer, if one played, in the other seat."""
    public = Game.objects.filter(pk=old_id).values_list("public", flat=True).first() or False
    hashes = {1: token_hashes[2], 2: token_hashes[1]}
    swapped = None if computer is None else (3 - computer[0], computer[1])
    statements = started_game_statements(
        new_id, kind, hashes, control, now_ms, rematch_of=old_id, public=public, computer=swapped
    )
    _script(statements)


def started_game_statements(
    game_id: str,
    kind: str,
    token_hashes: dict[int, str],
    control: TimeControl | None,
    now_ms: int,
    rematch_of: str | None = None,
    public: bool = False,
    computer: tuple[int, int] | None = None,
) -> list[tuple[str, list]]:
    """The statements that write a game with both seats taken (a rematch, or two seekers paired),
    in play from ``now_ms`` (in a timed game, seat 1's first-move limit runs from then): its row
    and its first two events. ``public``: on the lobby's watch list. Run in a transaction, with
    others if need be: Play now pairs in as few round trips as it can. ``computer``: (seat, level)
    of the computer opponent, whose seat has no token."""
    events = [
        Event(seq=1, kind="created", seat=1, data=created_data(control, computer)),
        Event(seq=2, kind="joined", seat=2, data={"at": now_ms} if control else {}),
    ]
    after = replay(kind, events)
    now = _to_db(timezone.now())
    row = {
        "id": game_id,
        "kind": kind,
        "time_control": control.name if control else "",
        "public": public,
        "status": PLAYING,
        "result": "",
        "seq": 2,
        "seat1_token_hash": token_hashes[1],
        "seat2_token_hash": token_hashes[2],
        "presence_version": 0,
        "created_at": now,
        "updated_at": now,
        "clock_deadline": _to_db(_from_ms(after.deadline_ms)),
        "rematch_of_id": rematch_of,
        "started_at": _to_db(_from_ms(now_ms)),
        "computer_seat": computer[0] if computer else None,
        "computer_level": computer[1] if computer else None,
        "computer_turn_since": now if after.computer_to_move else None,
    }
    columns, marks = ", ".join(row), ", ".join(["%s"] * len(row))
    return [
        (f"INSERT INTO {_GAME} ({columns}) VALUES ({marks})", list(row.values())),
        _insert_event_statement([Append(game_id, event, after) for event in events], now),
    ]


def create_computer_game(
    kind: str,
    control: TimeControl | None,
    human_seat: int,
    level: int,
    now_ms: int,
    public: bool = False,
    token: str | None = None,
    request_key: RequestKeyRecord | None = None,
) -> tuple[str, str]:
    """A game against the computer, in play at once: the person's seat and the computer's at
    ``level`` (1 to 5); on the lobby's watch list if ``public``. Return its ID and the person's
    token (``token`` if given); ``request_key`` as for ``create_game``."""
    new_match(kind)  # refuses unknown kinds before anything is written
    token = token or new_seat_token()
    computer = (3 - human_seat, level)
    hashes = {human_seat: hash_token(token), computer[0]: ""}
    for _ in range(5):
        game_id = new_game_id()
        statements = started_game_statements(game_id, kind, hashes, control, now_ms, public=public, computer=computer)
        if _made(statements, game_id, request_key, _to_db(timezone.now())):
            return game_id, token
    raise RuntimeError("could not draw a free game ID")


def load_game(game_id: str, alive_since: datetime) -> StoredGame | None:
    game, seats, events = _script(
        [_game_row(game_id), _alive_seats(game_id, alive_since), _events_after(game_id, 0)], writes=False
    )
    if not game:
        return None
    kind, hash1, hash2, *_ = game[0]
    return StoredGame(
        id=game_id,
        kind=kind,
        token_hashes={1: hash1, 2: hash2},
        presence=_presence(game, seats),
        events=_events(events),
    )


def positions(game_ids: list[str]) -> dict[str, tuple[int, int]]:
    """Each game's newest seq and presence version, as the database has them now."""
    found = {}
    for batch in _batches(game_ids):
        marks = ", ".join(["%s"] * len(batch))
        rows = _rows(f"SELECT id, seq, presence_version FROM {_GAME} WHERE id IN ({marks})", batch)
        found.update((game_id, (seq, version)) for game_id, seq, version in rows)
    return found


def catch_up(game_id: str, seq: int) -> tuple[list[Event], dict[int, str] | None]:
    """Events after ``seq``, and the seat token hashes if a join is among them (else None)."""
    events, game = _script([_events_after(game_id, seq), _game_row(game_id)], writes=False)
    return _with_token_hashes(_events(events), game)


def _with_token_hashes(events: list[Event], game: list[tuple]) -> tuple[list[Event], dict[int, str] | None]:
    if not game or not any(event.kind == "joined" for event in events):
        return events, None
    _, hash1, hash2, *_ = game[0]
    return events, {1: hash1, 2: hash2}


def events_after(game_id: str, seq: int) -> list[Event]:
    return _events(_rows(*_events_after(game_id, seq)))


def _events_after(game_id: str, seq: int) -> tuple[str, list]:
    return f"SELECT seq, kind, seat, data FROM {_EVENT} WHERE game_id = %s AND seq > %s ORDER BY seq", [game_id, seq]


def _events(rows: list[tuple]) -> list[Event]:
    return [Event(seq=seq, kind=kind, seat=seat, data=_json_from_db(data)) for seq, kind, seat, data in rows]


@dataclass
class Append:
    """One event to commit to a game still at ``event.seq - 1``.

    ``also`` runs inside the same transaction (a rematch creates its game there).
    """

    game_id: str
    event: Event
    after: Match
    token_hash: str = ""
    also: Callable[[], None] | None = None

    def game_fields(self) -> dict:
        """The game's columns this event changes, ready for the database."""
        now = _to_db(timezone.now())
        fields = {"seq": self.event.seq, "status": self.after.status, "updated_at": now}
        if self.after.clock is not None:
            fields["clock_deadline"] = _to_db(_from_ms(self.after.deadline_ms))
        if self.after.over:
            fields.update(result=self.after.result, winner=self.after.winner, finished_at=now)
        if self.event.kind == "joined":
            fields["seat1_token_hash" if self.event.seat == 1 else "seat2_token_hash"] = self.token_hash
            fields["started_at"] = now
        if self.after.computer is not None:
            fields["computer_turn_since"] = now if self.after.computer_to_move else None
        return fields

    def row(self, created_at) -> list:
        """The event's row: the values for ``_EVENT_COLUMNS``."""
        event = self.event
        return [
            self.game_id,
            event.seq,
            event.kind,
            event.seat,
            _EVENT_DATA.get_db_prep_save(event.data, connection),
            created_at,
        ]


# The log is appended to on every move, so these statements are written out too.
_EVENT_COLUMNS = ("game_id", "seq", "kind", "seat", "data", "created_at")
_EVENT_COLUMN_LIST = ", ".join(_EVENT_COLUMNS)
_EVENT_PLACEHOLDERS = f"({', '.join(['%s'] * len(_EVENT_COLUMNS))})"
_EVENT_DATA = GameEvent._meta.get_field("data")


def _advance(append: Append) -> bool:
    """Move the game to the event's seq if nobody else did first (the database's arbitration)."""
    fields = append.game_fields()
    assignments = ", ".join(f"{column} = %s" for column in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_GAME} SET {assignments} WHERE id = %s AND seq = %s",
            [*fields.values(), append.game_id, append.event.seq - 1],
        )
        return cursor.rowcount == 1


def _insert_event_statement(appends: list[Append], created_at) -> tuple[str, list]:
    values = ", ".join([_EVENT_PLACEHOLDERS] * len(appends))
    params = [value for append in appends for value in append.row(created_at)]
    return f"INSERT INTO {_EVENT} ({_EVENT_COLUMN_LIST}) VALUES {values}", params


def _insert_events(appends: list[Append]) -> None:
    created_at = _to_db(timezone.now())
    for batch in _batches(appends):
        _rows(*_insert_event_statement(batch, created_at))


def _append_in_one_statement(appends: list[Append]) -> set[str]:
    """PostgreSQL: every append of the group as one statement, so one round trip and no
    explicit transaction (a statement is atomic by itself). Per append, a data-modifying
    CTE moves the game on from the seq it was decided against and another writes the
    event only if the first did; the games returned are those that moved."""
    parts, params, moved = [], [], []
    created_at = _to_db(timezone.now())
    for index, append in enumerate(appends):
        fields = append.game_fields()
        assignments = ", ".join(f"{column} = %s" for column in fields)
        parts.append(
            f"moved_{index} AS (UPDATE {_GAME} SET {assignments} WHERE id = %s AND seq = %s RETURNING id), "
            f"event_{index} AS (INSERT INTO {_EVENT} ({_EVENT_COLUMN_LIST})"
            f" SELECT id, %s, %s, %s::smallint, %s, %s FROM moved_{index} RETURNING game_id)"
        )
        params += [*fields.values(), append.game_id, append.event.seq - 1, *append.row(created_at)[1:]]
        moved.append(f"SELECT game_id FROM event_{index}")
    return {game_id for (game_id,) in _rows(f"WITH {', '.join(parts)} {' UNION ALL '.join(moved)}", params)}


def append_event(append: Append) -> None:
    """Commit one event, or raise StaleGame if the game is no longer where it was decided."""
    with transaction.atomic():
        if not _advance(append):
            raise StaleGame(append.game_id)
        _insert_events([append])
        if append.also is not None:
            append.also()


def append_many(appends: list[Append]) -> list[Exception | None]:
    """Commit many games' events in one transaction; per append, None or the exception it met.

    An append whose game moved on gets StaleGame and writes nothing. If anything
    else goes wrong the group is retried one append per transaction, so a single
    bad append cannot take the others down with it.
    """
    if any(append.also is not None for append in appends):
        return [_alone(append) for append in appends]
    if connection.vendor == "postgresql":
        try:
            moved = _append_in_one_statement(appends)
        except DatabaseError:
            return [_alone(append) for append in appends]
        return [None if append.game_id in moved else StaleGame(append.game_id) for append in appends]
    if len(appends) == 1:
        return [_alone(appends[0])]
    try:
        with transaction.atomic():
            advanced = [_advance(append) for append in appends]
            _insert_events([append for append, ok in zip(appends, advanced, strict=True) if ok])
    except DatabaseError:
        return [_alone(append) for append in appends]
    return [None if ok else StaleGame(append.game_id) for append, ok in zip(appends, advanced, strict=True)]


def _alone(append: Append) -> Exception | None:
    try:
        append_event(append)
    except Exception as error:
        return error
    return None


def away_too_long(cutoff: datetime, limit: int = 100) -> list[tuple[str, int]]:
    """Games in play with a seat away since before ``cutoff``: (game ID, absent seat)."""
    found = []
    for seat in (1, 2):
        rows = Game.objects.filter(status=PLAYING, **{f"seat{seat}_away_since__lt": cutoff})
        found += [(game_id, seat) for game_id in rows.values_list("id", flat=True)[:limit]]
    return found


def unjoined_before(cutoff: datetime, limit: int) -> list[str]:
    """Up to ``limit`` games still waiting for a second player that were created before ``cutoff``,
    oldest first (the index on status and created_at finds them)."""
    rows = Game.objects.filter(status=WAITING, created_at__lt=cutoff).order_by("created_at")
    return list(rows.values_list("id", flat=True)[:limit])


def clocks_run_out(now: datetime, limit: int) -> list[str]:
    """Up to ``limit`` games in play whose side to move ran out of time before ``now``, most overdue first."""
    rows = Game.objects.filter(status=PLAYING, clock_deadline__lt=now).order_by("clock_deadline")
    return list(rows.values_list("id", flat=True)[:limit])


def computer_turns_untaken(cutoff: datetime, limit: int) -> list[str]:
    """Up to ``limit`` games in play where the computer has had the move since before ``cutoff``,
    longest first: the process thinking for it died, or never began."""
    rows = Game.objects.filter(status=PLAYING, computer_turn_since__lt=cutoff).order_by("computer_turn_since")
    return list(rows.values_list("id", flat=True)[:limit])


def clocks_running() -> list[str]:
    """Every game in play whose clock is running (what an outage is given back to)."""
    return list(Game.objects.filter(status=PLAYING, clock_deadline__isnull=False).values_list("id", flat=True))


def read_game(game_id: str) -> tuple[Game, Match, list[dict]] | None:
    """A game, its replayed state and its public history, without making it live."""
    game = Game.objects.filter(pk=game_id).first()
    if game is None:
        return None
    match, history = replay_with_history(game.kind, events_after(game_id, 0))
    return game, match, history


# ----- Presence, shared by every server process ---------------------------------
# Presence is counted from the Connection rows of live processes and kept on the game's
# row: a version (its order across processes) and since when each absent seat has been
# away. A connection coming or going is one script, so one round trip on PostgreSQL:
# record it, lock the game's row, restamp and bump the version, read the new count.

# Presence is soft state (a dead process's rows are reaped anyway), so on PostgreSQL its
# commit need not wait for the disk; a move's commit always does.
_SOFT_COMMIT = "SET LOCAL synchronous_commit TO OFF"


def _soft() -> list[tuple[str, list]]:
    return [(_SOFT_COMMIT, [])] if connection.vendor == "postgresql" else []


@contextmanager
def _soft_state():
    """A transaction for presence written through the ORM (see ``_SOFT_COMMIT``)."""
    with transaction.atomic():
        _script(_soft())
        yield


def _game_row(game_id: str) -> tuple[str, list]:
    columns = (
        "kind, seat1_token_hash, seat2_token_hash, presence_version, seat1_away_since, seat2_away_since, computer_seat"
    )
    return f"SELECT {columns} FROM {_GAME} WHERE id = %s", [game_id]


_ALIVE = f"{_CONNECTION} c JOIN {_SERVER} s ON s.id = c.server_id WHERE c.game_id = %s AND s.seen_at >= %s"


def _alive_seats(game_id: str, alive_since: datetime) -> tuple[str, list]:
    """The seat of every connection to the game on a live process (None for a spectator)."""
    return f"SELECT c.seat FROM {_ALIVE}", [game_id, _to_db(alive_since)]


def _presence(game: list[tuple], seats: list[tuple]) -> Presence | None:
    """Presence from the results of ``_game_row`` and ``_alive_seats``; None if there is no such game."""
    if not game:
        return None
    *_, version, away1, away2, computer = game[0]
    seated = [seat for (seat,) in seats]
    return Presence(
        version=version,
        players={1: 1 in seated or computer == 1, 2: 2 in seated or computer == 2},  # the computer never leaves
        spectators=seated.count(None),
        away_since={1: _from_db(away1), 2: _from_db(away2)},
    )


def _recount(game_id: str, alive_since: datetime, left_at: datetime | None = None) -> list[tuple[str, list]]:
    """Statements that count again: a seat with a live connection is not away; a seat that just
    lost its last one, while play is on, is away from ``left_at`` (now by default). The version
    goes up. The last two statements read the result for :func:`_presence`.

    The game's row is locked first, in a statement of its own, so that the count, taken by the
    next statement, sees every change committed by whoever held the lock before (a single
    statement would count from a snapshot taken before it waited for the lock)."""
    alive, stamp = _to_db(alive_since), _to_db(left_at or timezone.now())
    away = [
        f"seat{seat}_away_since = CASE WHEN computer_seat = {seat} THEN NULL"  # the computer never leaves
        f" WHEN EXISTS (SELECT 1 FROM {_ALIVE} AND c.seat = {seat}) THEN NULL"
        f" WHEN status = %s AND seat{seat}_away_since IS NULL THEN %s ELSE seat{seat}_away_since END"
        for seat in (1, 2)
    ]
    lock = [(f"SELECT id FROM {_GAME} WHERE id = %s FOR UPDATE", [game_id])]
    return [
        *(lock if connection.features.has_select_for_update else []),  # SQLite: the transaction locks it all
        (
            f"UPDATE {_GAME} SET presence_version = presence_version + 1, {', '.join(away)} WHERE id = %s",
            [*[game_id, alive, PLAYING, stamp] * 2, game_id],
        ),
        _game_row(game_id),
        _alive_seats(game_id, alive_since),
    ]


def _change_presence(
    game_id: str, alive_since: datetime, before: tuple[tuple[str, list], ...] = (), left_at: datetime | None = None
) -> Presence | None:
    """Run the statements ``before`` (a connection row going, say), then recount: one script."""
    return _presence(*_script([*_soft(), *before, *_recount(game_id, alive_since, left_at)])[-2:])


def read_presence(game_id: str, alive_since: datetime) -> Presence | None:
    return _presence(*_script([_game_row(game_id), _alive_seats(game_id, alive_since)], writes=False))


def recount(game_id: str, alive_since: datetime, left_at: datetime | None = None) -> Presence | None:
    """Presence after a change that is not a connection (play starting, say); a seat that is not
    connected is away from ``left_at`` (default now) unless it already was."""
    return _change_presence(game_id, alive_since, left_at=left_at)


@dataclass
class Arrival:
    """What a greeted connection needs from the database: the new count, and the log since the cache's seq."""

    presence: Presence | None
    events: list[Event]
    token_hashes: dict[int, str] | None  # as in catch_up: only when a join is among the events


def connect(
    channel_name: str, game_id: str, server_id: str, seat: int | None, alive_since: datetime, seen_seq: int
) -> Arrival:
    """Record (or re-seat) a greeted connection, count the game's presence and read the log after
    ``seen_seq``: one visit to the database for the welcome that follows."""
    record = (
        f"INSERT INTO {_CONNECTION} (channel_name, game_id, server_id, seat, since) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (channel_name) DO UPDATE"
        " SET game_id = excluded.game_id, server_id = excluded.server_id, seat = excluded.seat",
        [channel_name, game_id, server_id, seat, _to_db(timezone.now())],
    )
    try:
        *_, game, seats, events = _script(
            [*_soft(), record, *_recount(game_id, alive_since), _events_after(game_id, seen_seq)]
        )
    except IntegrityError:  # the server row is gone: others reaped this process while it was busy
        if not Server.objects.filter(pk=server_id).exists():
            raise ServerGone(server_id) from None
        raise
    return Arrival(_presence(game, seats), *_with_token_hashes(_events(events), game))


def disconnect(
    channel_name: str, game_id: str, alive_since: datetime, left_at: datetime | None = None
) -> Presence | None:
    """Forget a connection and count again; a seat it leaves empty is away from ``left_at`` (default now)."""
    forget = (f"DELETE FROM {_CONNECTION} WHERE channel_name = %s", [channel_name])
    return _change_presence(game_id, alive_since, before=(forget,), left_at=left_at)


def register_server(server_id: str, host: str, pid: int) -> datetime | None:
    """Write this process's row; return the newest heartbeat of any other process as it stood before
    (None if there is none): how long nobody was serving, if every process had stopped."""
    newest = Server.objects.exclude(pk=server_id).aggregate(newest=models.Max("seen_at"))["newest"]
    Server.objects.update_or_create(id=server_id, defaults={"host": host, "pid": pid, "seen_at": timezone.now()})
    return newest


def heartbeat(server_id: str) -> bool:
    """Say this process is alive; False if others already gave it up for dead (its rows are gone)."""
    return bool(Server.objects.filter(pk=server_id).update(seen_at=timezone.now()))


def restore_connections(server_id: str, connections: list[tuple[str, str, int | None]]) -> None:
    """Put back the rows of a process that was wrongly reaped: (channel name, game ID, seat) each."""
    with _soft_state():
        Connection.objects.filter(server_id=server_id).delete()
        Connection.objects.bulk_create(
            [Connection(channel_name=c, game_id=g, server_id=server_id, seat=s) for c, g, s in connections],
            ignore_conflicts=True,
        )


def reap_dead_servers(alive_since: datetime) -> dict[str, Presence]:
    """Forget processes that stopped beating and their connections; the games they touched, recounted."""
    changed = {}
    for server in Server.objects.filter(seen_at__lt=alive_since):
        with _soft_state():
            game_ids = set(Connection.objects.filter(server=server).values_list("game_id", flat=True))
            server.delete()  # its connections go with it
        # Each game is recounted in a transaction of its own: holding one game's row while
        # waiting for another's could deadlock with a group of appends, which takes its games'
        # rows in an order of its own (seen in bench S4 on PostgreSQL).
        for game_id in game_ids:
            presence = _change_presence(game_id, alive_since, left_at=server.seen_at)
            if presence is not None:
                changed[game_id] = presence
    return changed
