"""Who is connected to each game, counted across every process, and how each count reaches the sockets.

A greeted connection is a ``Connection`` row held by this process (games/live/liveness.py); a
game's presence is counted from the rows of processes that are alive, and the count is
versioned on the game's row, so every process orders counts the same way. Here: recording
a connection's arrival and departure, counting again, publishing a count to the game's
group (a player arriving or leaving goes out at once, spectators in batches), and taking a
count published by any process.

The functions take the game as the registry holds it (``live``), or None for a game this
process does not hold; the registry, which holds them, calls them.

Memory leads the database. A socket that leaves is forgotten at once, and one that says
hello is counted here at once, even while the database is down; what could not be recorded
is recorded by the sweeper once the database is back (``record_pending``), as memory has it
by then, and a departure is stamped with the moment it happened. So a player whose socket
went while the database was down is still away from that moment, and can be claimed.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from channels.layers import get_channel_layer
from django.utils import timezone

from games import metrics
from games.core.identity import group_name
from games.live import liveness, lobby
from games.storage import journal, store

if TYPE_CHECKING:
    from games.live.game import LiveGame

log = logging.getLogger(__name__)

# After a presence broadcast, changes within this window go out together at its end: a
# crowd arriving at once would otherwise cost every member a message for every arrival.
BATCH_SECONDS = 0.5
_queue: dict[str, tuple[store.Presence, LiveGame | None]] = {}  # game ID -> newest count not yet broadcast
_senders: dict[str, asyncio.Task] = {}
_broadcasting: set[asyncio.Task] = set()  # counts going out at once (the loop keeps only weak references)
# What the database failed to record, for the sweeper: channel name -> (its game, when its
# arrival or departure happened), and game ID -> (the game, when play started or rows came back).
_unrecorded: dict[str, tuple[LiveGame, datetime]] = {}
_uncounted: dict[str, tuple[LiveGame, datetime]] = {}


# ----- Recording and counting -------------------------------------------------------


async def arrive(live: LiveGame, channel_name: str, seat: int | None) -> store.Arrival:
    """Record a greeted connection (or its new seat), count again and read the log after the
    cache's seq: one visit to the database. Raises ServerGone if this process was reaped.

    ``live.connections`` already says what the connection is. If the database fails, the
    error is raised for the caller and the sweeper records the connection later."""
    try:
        await liveness.register()
        arrival = await journal.run(
            store.connect, channel_name, live.id, liveness.SERVER_ID, seat, liveness.alive_since(), live.match.seq
        )
    except store.DATABASE_ERRORS as error:
        log.warning("a connection to game %s is left for the sweeper to record: %s", live.id, error)
        _unrecorded[channel_name] = (live, timezone.now())
        raise
    _unrecorded.pop(channel_name, None)
    return arrival


def recorded(channel_name: str) -> bool:
    """False while a connection's arrival or departure waits for the sweeper to record it."""
    return channel_name not in _unrecorded


async def depart(live: LiveGame, channel_name: str) -> None:
    """Record that a greeted connection left (memory has forgotten it already), and tell everyone.
    If the database fails, the sweeper records it later, as of now."""
    try:
        count = await journal.run(store.disconnect, channel_name, live.id, liveness.alive_since())
    except store.DATABASE_ERRORS as error:
        log.warning("a departure from game %s is left for the sweeper to record: %s", live.id, error)
        _unrecorded[channel_name] = (live, timezone.now())
        return
    _unrecorded.pop(channel_name, None)
    await publish(live.id, count, live)


async def recount(live: LiveGame) -> None:
    """Count again after a change that is not a connection (play starting, rows put back) and tell
    everyone. If the database fails, the sweeper counts later, seats away as of now."""
    try:
        count = await journal.run(store.recount, live.id, liveness.alive_since())
    except store.DATABASE_ERRORS as error:
        log.warning("counting game %s again is left for the sweeper: %s", live.id, error)
        _uncounted[live.id] = (live, timezone.now())
        return
    await publish(live.id, count, live)


async def record_pending() -> None:
    """The sweeper's turn: record what the database failed to, each connection as memory has it
    now (still greeted, or gone since), and count those games again. The first failure raises
    and leaves the rest for the next sweep."""
    for channel_name in list(_unrecorded):
        if (pending := _unrecorded.pop(channel_name, None)) is None:
            continue  # recorded meanwhile
        live, when = pending
        try:
            count = await _record(live, channel_name, when)
        except store.ServerGone:
            continue  # this process was reaped: its next heartbeat puts every connection back
        except store.DATABASE_ERRORS:
            _unrecorded.setdefault(channel_name, pending)
            raise
        await publish(live.id, count, live)
    for game_id in list(_uncounted):
        if (pending := _uncounted.pop(game_id, None)) is None:
            continue
        live, when = pending
        try:
            count = await journal.run(store.recount, game_id, liveness.alive_since(), when)
        except store.DATABASE_ERRORS:
            _uncounted.setdefault(game_id, pending)
            raise
        await publish(game_id, count, live)


async def _record(live: LiveGame, channel_name: str, when: datetime) -> store.Presence | None:
    """Make the connection's row say what memory says. The statement is queued on the journal
    thread as soon as memory is read, so a later change of this connection comes after it."""
    if channel_name in live.connections:
        await liveness.register()
    if channel_name not in live.connections:  # gone, perhaps while this process registered
        return await journal.run(store.disconnect, channel_name, live.id, liveness.alive_since(), when)
    seat, seq = live.connections[channel_name], live.match.seq
    arrival = await journal.run(
        store.connect, channel_name, live.id, liveness.SERVER_ID, seat, liveness.alive_since(), seq
    )
    return arrival.presence


async def refresh(live: LiveGame) -> None:
    """Take the count as the database has it now (claims are decided on it)."""
    count = await journal.run(store.read_presence, live.id, liveness.alive_since())
    if count is not None and count.version >= live.presence_version:
        live.presence_state = count


# ----- Publishing and observing -------------------------------------------------------


async def publish(game_id: str, count: store.Presence | None, live: LiveGame | None) -> None:
    """Broadcast a count. A player arriving or leaving goes out at once; changes in the number of
    spectators go out at once if the game was quiet, else together once per window."""
    if count is None:
        return
    if live is not None and count.version > live.presence_version:
        if count.spectators != live.presence_state.spectators:
            lobby.changed()  # the watch list shows spectator counts
        live.presence_state = count
    players = (count.players[1], count.players[2])
    if live is None or live.players_sent != players:  # a player came or went: everyone hears of it at once
        if live is not None:
            live.players_sent = players
        _queue.pop(game_id, None)  # this count supersedes anything waiting
        # Sent without waiting (counts carry their version, so their order does not matter): a
        # hello's welcome, or a move's ack, never waits for the channel layer.
        task = asyncio.ensure_future(_broadcast(game_id, _message(count), live))
        _broadcasting.add(task)
        task.add_done_callback(_broadcasting.discard)
        return
    queued = _queue.get(game_id)
    if queued is None or count.version > queued[0].version:
        _queue[game_id] = (count, live)
    if game_id not in _senders:
        _senders[game_id] = asyncio.ensure_future(_send(game_id))


async def _send(game_id: str) -> None:
    """Send the newest count at once, then at most once a window while changes keep coming."""
    try:
        while game_id in _queue:
            count, live = _queue.pop(game_id)
            await _broadcast(game_id, _message(count), live)
            await asyncio.sleep(BATCH_SECONDS)
    finally:
        _senders.pop(game_id, None)


async def sent() -> None:
    """Wait until every queued presence broadcast has gone out."""
    while _senders or _broadcasting:
        await asyncio.gather(*_senders.values(), *_broadcasting, return_exceptions=True)


async def _broadcast(game_id: str, message: dict, live: LiveGame | None) -> None:
    """To every connection of the game, in every process. If the channel layer is down, the
    registry's heal tells this process's sockets once it is back."""
    try:
        await get_channel_layer().group_send(group_name(game_id), message)
    except Exception as error:
        metrics.LAYER_FAILURES["presence"].inc()
        log.warning("presence broadcast to game %s failed: %s", game_id, error)
        if live is not None:
            live.unsent = True


def _message(count: store.Presence) -> dict:
    """A count as a channel-layer message: primitives only, so it crosses Redis intact."""
    return {
        "type": "game.presence",
        "version": count.version,
        "players": [count.players[1], count.players[2]],
        "spectators": count.spectators,
        "away_since": [count.away_since[seat] and count.away_since[seat].timestamp() for seat in (1, 2)],
    }


def _from_message(message: dict) -> store.Presence:
    def when(stamp: float | None) -> datetime | None:
        return None if stamp is None else datetime.fromtimestamp(stamp, tz=UTC)

    return store.Presence(
        version=message["version"],
        players={1: message["players"][0], 2: message["players"][1]},
        spectators=message["spectators"],
        away_since={1: when(message["away_since"][0]), 2: when(message["away_since"][1])},
    )


def observe(live: LiveGame, message: dict) -> None:
    """Take a count published by any process, unless this cache already has a newer one."""
    if message["version"] > live.presence_version:
        live.presence_state = _from_message(message)


def reset() -> None:
    """Forget every count waiting to go out and all that waits to be recorded (each test has its
    own event loop and database)."""
    for sender in [*_senders.values(), *_broadcasting]:
        sender.cancel()
    _senders.clear()
    _broadcasting.clear()
    _queue.clear()
    _unrecorded.clear()
    _uncounted.clear()
