"""Play now, as one process sees it: seeks made and ended, which seekers' sockets are here, and
telling seekers (on any process) that they were paired.

The database decides (games/storage/pool.py, on the journal thread); this module only reports. A
seeker's sockets join the channel-layer group of its seek, so a pairing made by any process
reaches them. A message lost on the way (a process dying between commit and send) is made
good by the sweep, which reads the state of every seek with a socket here.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from channels.layers import get_channel_layer
from django.utils import timezone

from games import metrics
from games.core.identity import hash_token, new_seat_token
from games.live import here, lobby
from games.live.game import now_ms
from games.storage import journal, pool, store
from games.storage.pool import Pairing, Ticket

log = logging.getLogger(__name__)

# Seek ID -> channel names of its sockets in this process.
_sockets: defaultdict[str, set[str]] = defaultdict(set)


def group_name(seek_id: str) -> str:
    return f"seek-{seek_id}"


async def create(
    owner: str,
    address: str,
    time_control: str,
    replace: bool,
    token: str | None = None,
    request_key: store.RequestKeyRecord | None = None,
) -> tuple[Ticket, str]:
    """A new seek (paired at once if someone waits): its ticket and the seeker's secret, which
    becomes its seat token once paired. pool.AlreadySeeking if the owner waits already and not
    ``replace``; store.AlreadyMade if ``request_key`` was recorded already (games/web/idempotency.py)."""
    token = token or new_seat_token()
    ticket, pairings, replaced = await journal.run(
        pool.seek, owner, address, time_control, hash_token(token), replace, timezone.now(), now_ms(), request_key
    )
    metrics.SEEKS.inc()
    if replaced is not None:
        await _tell(replaced, {"type": "seek.ended", "status": pool.CANCELLED})
    await _announce(pairings)
    lobby.changed()
    return ticket, token


async def ticket(seek_id: str) -> Ticket | None:
    return await journal.read(pool.ticket, seek_id)


async def attach(seek_id: str, channel_name: str, token: str) -> Ticket | None:
    """A socket of the seeker, greeted with its token: counted here, pairable, and paired if someone
    waits. None for an unknown seek; pool.WrongToken (nothing changed) for a token not the seek's."""
    found, pairings = await journal.run(pool.arrive, seek_id, token, timezone.now(), now_ms())
    if found is not None:
        _sockets[seek_id].add(channel_name)
    await _announce(pairings)
    return found


async def detach(seek_id: str, channel_name: str) -> None:
    """The socket closed: when it was the seeker's last one here, the seeker is away (keeping its place)."""
    sockets = _sockets.get(seek_id)
    if sockets is None:
        return
    sockets.discard(channel_name)
    if not sockets:
        del _sockets[seek_id]
        await journal.run(pool.leave, [seek_id], timezone.now())


async def end(seek_id: str, status: str) -> Ticket | None:
    """Cancel (the seeker) or remove (an operator) a waiting seek; every socket of it hears how it ended."""
    found = await journal.run(pool.end, seek_id, status, timezone.now())
    if found is not None:
        await _tell_state(found)
        lobby.changed()
    return found


async def sweep() -> None:
    """Each sweep: the seekers here are still here, pair what heartbeats made pairable, let go of
    seekers gone past the grace period, and tell sockets here of any end they missed."""
    now = timezone.now()
    seek_ids = list(_sockets)
    await journal.run(pool.heartbeat, seek_ids, now)
    await _announce(await journal.run(pool.pair_waiting, now, now_ms()))
    expired = await journal.run(pool.expire, now)
    for seek_id in expired:
        await _tell(seek_id, {"type": "seek.ended", "status": pool.EXPIRED})
    if expired:
        lobby.changed()
    await report_here(seek_ids)


async def report_here(seek_ids: list[str] | None = None) -> None:
    """Tell the sockets here of every seek that is no longer waiting how it ended: a pairing made
    on another process reaches its seeker here even while the channel layer cannot carry it (the
    sweep, and the outage watch of games/live/sweeper.py, call this)."""
    seek_ids = list(_sockets) if seek_ids is None else seek_ids
    if not seek_ids:
        return
    for found in await journal.run(pool.tickets, seek_ids):
        if found.status != pool.WAITING:
            await _tell_state(found)


async def _announce(pairings: list[Pairing]) -> None:
    for pairing in pairings:
        metrics.PAIRINGS.inc()
        for seek_id, seat in pairing.seats.items():
            await _tell(seek_id, {"type": "seek.paired", "game_id": pairing.game_id, "seat": seat})
    if pairings:
        lobby.changed()


async def _tell_state(found: Ticket) -> None:
    if found.status == pool.PAIRED:
        await _tell(found.id, {"type": "seek.paired", "game_id": found.game_id, "seat": found.seat})
    elif found.status != pool.WAITING:
        await _tell(found.id, {"type": "seek.ended", "status": found.status})


async def _tell(seek_id: str, message: dict) -> None:
    """Tell every socket of the seek, in every process. Never fails what was committed before it:
    with the layer down, the seek's sockets on this process are told directly, and each other
    process tells its own from the database (``report_here``)."""
    try:
        await get_channel_layer().group_send(group_name(seek_id), message)
    except Exception as error:
        metrics.LAYER_FAILURES["seek"].inc()
        log.warning("telling seek %s failed: %s", seek_id, error)
        for channel_name in list(_sockets.get(seek_id, ())):
            here.tell(channel_name, message)


def reset() -> None:
    """Forget this process's sockets (each test has its own event loop)."""
    _sockets.clear()
