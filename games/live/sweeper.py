"""The per-process timer: heartbeats, unrecorded presence, missed broadcasts, dead processes, idle
sockets, clocks run out, computer turns nobody took, abandoned games, games nobody joined.

Three asyncio tasks per server process (the sweep; the heartbeat on a timer of its own so
that a slow sweep cannot delay it; and, while Redis is taken for down, a quick look at the log
of this process's games several times a second, so a move the layer could not carry reaches
its sockets within a fraction of a second instead of a sweep), started when the process begins serving
(:func:`start_serving`, which the server daphne's command line builds calls), so clocks
run out, outages are given back and the computer's stalled turns are taken while nobody
is connected; under a server that does not call it (``manage.py runserver``), the first
connection starts it (:func:`ensure_running`). Its heartbeat keeps this process's
connections counted; a process that stops beating (killed, say) is reaped by any other,
and its players count as away from its last beat. The deadlines it acts on are stored in
the database, so they survive a restart, and its actions go through the registry like
any other, so the database still decides if two processes act on the same game at once.
What the database failed to record while it was down (a socket that left, say) is
recorded at the first sweep after it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from games.core.rules import IllegalMove
from games.layers import redis_guard
from games.live import (
    absence,
    computer,
    connections,
    healing,
    here,
    liveness,
    lobby,
    presence,
    registry,
    seeking,
    timers,
)
from games.live.game import UnknownGame
from games.storage import store
from games.web import limits

log = logging.getLogger(__name__)

_task: asyncio.Task | None = None
_heart: asyncio.Task | None = None
_outage: asyncio.Task | None = None
# While Redis is taken for down, how often the log of this process's games is read.
OUTAGE_POLL_SECONDS = 0.25
# Once Redis is back, how long the last look waits for the sockets' groups to be made at Redis again.
REJOIN_WAIT_SECONDS = 5


def ensure_running() -> None:
    global _task, _heart, _outage
    if _task is None or _task.done():
        _task = asyncio.ensure_future(_run())
    if _heart is None or _heart.done():
        _heart = asyncio.ensure_future(_beat())
    if _outage is None or _outage.done():
        _outage = asyncio.ensure_future(_watch_outage())


def start_serving() -> None:
    """The server listens and its event loop runs: from now on this process serves, so its timed
    work begins, and an outage it started after is given back as of this moment (not of its first
    socket, which may come much later). Call it on the event loop."""
    liveness.began_serving()
    ensure_running()


def stop() -> None:
    global _task, _heart, _outage
    for task in (_task, _heart, _outage):
        if task is not None:
            task.cancel()
    _task = _heart = _outage = None


async def _beat() -> None:
    """The heartbeat, on a timer of its own. A sweep's database work queues behind the sockets'
    (a burst of thousands of greetings kept one sweep waiting 10 s): were the beat a step of the
    sweep, it would wait too, past ``GAME_SERVER_TIMEOUT_SECONDS``, and the other processes would
    take this one for dead mid-burst, deleting its connections under the greetings still coming."""
    while True:
        await asyncio.sleep(settings.GAME_SWEEP_INTERVAL_SECONDS)
        await limits.beat()  # Redis, not the database: before anything the database could stop
        try:
            if not await liveness.beat():
                await connections.restore()
        except store.DATABASE_ERRORS as error:  # down for now: the next beat tries again
            log.warning("heartbeat failed, the database failed: %s", error)
        except Exception:  # one bad beat must not stop the next
            log.exception("heartbeat failed")


async def _watch_outage() -> None:
    """While this process takes Redis for down (games/layers/redis_guard.py), the channel layer carries
    no other process's events: read the log of the games with sockets here every
    ``OUTAGE_POLL_SECONDS`` (one query for them all), so what it missed reaches their sockets
    within a fraction of a second, and a move held up long enough is given back (``heal``); a
    seeker here paired by another process hears of it the same way (``seeking.report_here``).
    Redis is pinged meanwhile (``redis_guard.watch``), so an outage is noticed within a second or
    two even when this process has nothing to send. When Redis is back, one last look, once the
    sockets' groups are made at Redis again, catches what was published before they were."""
    pings = asyncio.ensure_future(redis_guard.watch()) if settings.REDIS_URL else None
    was_down = False
    try:
        while True:
            await asyncio.sleep(OUTAGE_POLL_SECONDS)
            down = redis_guard.is_down()
            if not down and not was_down:
                continue
            try:
                if not down:  # just back: once the sockets' groups are made at Redis again, a last
                    await _groups_rejoined()  # look catches what was published before they were
                await healing.heal()
                await seeking.report_here()
                was_down = down
            except store.DATABASE_ERRORS as error:  # the database too: the next look tries again
                log.warning("reading the log while Redis is down failed: %s", error)
            except Exception:  # one bad look must not stop the next
                log.exception("reading the log while Redis is down failed")
    finally:
        if pings is not None:
            pings.cancel()


async def _groups_rejoined() -> None:
    """Return once the group memberships made while Redis was down are made at Redis (a bounded wait)."""
    until_joined = getattr(get_channel_layer(), "until_joined", None)  # the guarded Redis layer's
    if until_joined is not None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(REJOIN_WAIT_SECONDS):
                await until_joined()


async def _run() -> None:
    with contextlib.suppress(Exception):  # the first sweep tries again
        await timers.ready()  # before any clock is read: an outage's time given back
    while True:
        await asyncio.sleep(settings.GAME_SWEEP_INTERVAL_SECONDS)
        try:
            await presence.record_pending()
            await healing.heal()
            await connections.reap_dead_servers()
            await close_idle_sockets()
            await flag_run_out_clocks()
            await computer.take_untaken_turns()
            await seeking.sweep()
            await lobby.refresh_here()
            await forfeit_abandoned_games()
            await expire_unjoined_games()
        except store.DATABASE_ERRORS as error:  # down for now: the next sweep tries again
            log.warning("sweep stopped, the database failed: %s", error)
        except Exception:  # one bad sweep must not stop the next
            log.exception("sweep failed")


async def close_idle_sockets() -> None:
    """Ask every socket that has said nothing for too long to close itself (they are all on this
    process: told directly, the channel layer not needed)."""
    cutoff = time.monotonic() - settings.GAME_IDLE_TIMEOUT_SECONDS
    for live in registry.live_games():
        for channel_name, last_heard in list(live.sockets.items()):
            if last_heard < cutoff:
                live.sockets[channel_name] = float("inf")  # asked once is enough
                here.tell(channel_name, {"type": "socket.idle"})


async def flag_run_out_clocks() -> None:
    """End on time the games whose clock ran out that no process ended itself (nobody holds them, or
    the holder died, its timer's append failed): a bounded batch per sweep. A game's own timer fires
    at its deadline, so only those overdue by half a sweep are taken here."""
    await timers.ready()
    cutoff = timezone.now() - timedelta(seconds=settings.GAME_SWEEP_INTERVAL_SECONDS / 2)
    for game_id in await database_sync_to_async(store.clocks_run_out)(cutoff, settings.GAME_EXPIRE_BATCH):
        with contextlib.suppress(IllegalMove, UnknownGame):  # a move or another process got there first
            await timers.flag(game_id)


async def forfeit_abandoned_games() -> None:
    """A seat away past the long limit loses; if both are, the game is aborted."""
    cutoff = timezone.now() - timedelta(seconds=settings.GAME_FORFEIT_AFTER_SECONDS)
    for game_id, seat in await database_sync_to_async(store.away_too_long)(cutoff):
        # Refused when already over, the player came back, or another process got there first.
        with contextlib.suppress(IllegalMove, UnknownGame):
            await absence.forfeit_absent(game_id, seat)


async def expire_unjoined_games() -> None:
    """Abort games nobody joined in time, a bounded batch per sweep (the next sweep takes the rest).
    Every process sweeps: the conditional append lets one abort each game, the others are refused."""
    cutoff = timezone.now() - timedelta(seconds=settings.GAME_EXPIRE_UNJOINED_AFTER_SECONDS)
    for game_id in await database_sync_to_async(store.unjoined_before)(cutoff, settings.GAME_EXPIRE_BATCH):
        # Refused when someone joined meanwhile or another process expired it first.
        with contextlib.suppress(IllegalMove, UnknownGame):
            await registry.expire(game_id)
