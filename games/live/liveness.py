"""This process as the others see it: who it is, that it is alive, and the end of those that are not.

Each server process writes a ``Server`` row when it begins serving (or, under a server that does
not say when that is, when it greets its first connection), and the sweeper's heartbeat keeps
that row's ``seen_at`` fresh. The connections a process greets
point at its row, and only connections of processes that beat recently count as present
(games/live/presence.py). A process that stops beating (killed, say) is reaped by any other: its
row and its connections go, and its players count as away from its last beat. A process
that was taken for dead while alive (a long pause) finds its row gone at its next beat, and
games/live/connections.py puts its connections back (``connections.restore``).

Heartbeats and reaping run on a thread (and database connection) of their own, so a queue
of socket work on the journal thread can never make this process look dead to the others.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from channels.db import DatabaseSyncToAsync
from django.conf import settings
from django.utils import timezone

from games.storage import journal, store

log = logging.getLogger(__name__)

# This process, as the database knows it; rows for its connections point here.
SERVER_ID = uuid.uuid4().hex[:16]
_registered = False
_restore_owed = False  # a restore failed half-way (the database went away): the next beat asks again
# When no process was serving, as this one found on registering first: (from, to) in ms, or None.
_outage: tuple[int, int] | None = None
# When this process began serving (its server said so: :func:`began_serving`), or None.
_serving_since: datetime | None = None


def alive_since() -> datetime:
    """Connections on a process that has not beaten since then no longer count."""
    return timezone.now() - timedelta(seconds=settings.GAME_SERVER_TIMEOUT_SECONDS)


async def register(again: bool = False) -> None:
    """Make sure the database knows this process (``again``: it was reaped, so write the row anew).

    The first registration also looks for an outage: if the newest heartbeat of any other process
    is older than ``GAME_OUTAGE_AFTER_SECONDS``, no process was serving from then until this one
    began serving (or until now, if its server did not say when that was)."""
    global _registered, _outage
    if again or not _registered:
        now = _serving_since or timezone.now()
        newest = await journal.run(store.register_server, SERVER_ID, socket.gethostname(), os.getpid())
        first = not _registered and not again
        if first and newest is not None and (now - newest).total_seconds() > settings.GAME_OUTAGE_AFTER_SECONDS:
            _outage = (int(newest.timestamp() * 1000), int(now.timestamp() * 1000))
        _registered = True


def began_serving() -> None:
    """This process serves from now: an outage it started after ends here, however long its first
    registration then takes (a database slow to answer, say). Only the first call counts."""
    global _serving_since
    if _serving_since is None:
        _serving_since = timezone.now()


async def outage() -> tuple[int, int] | None:
    """The outage this process started after, in ms (from the last beat of any process to this one's
    start), or None; registers first if it has not yet."""
    await register()
    return _outage


def _on_own_thread(function: Callable) -> Callable:
    return DatabaseSyncToAsync(function, thread_sensitive=False)


async def beat() -> bool:
    """The sweeper's heartbeat. False if other processes gave this one up for dead (its row and
    connections are gone and must be put back), or if putting them back failed; True otherwise,
    or before it has registered."""
    if _restore_owed:
        return False
    return not _registered or await _on_own_thread(store.heartbeat)(SERVER_ID)


async def restore(connections: list[tuple[str, str, int | None]]) -> None:
    """Write this process's row again, with ``connections`` (channel name, game ID, seat) as its own."""
    global _restore_owed
    log.warning("this server was taken for dead while alive; restoring its connections")
    _restore_owed = True  # until both writes are done: the row alone would make the next beat succeed
    await register(again=True)
    await journal.run(store.restore_connections, SERVER_ID, connections)
    _restore_owed = False


async def reap() -> dict[str, store.Presence]:
    """Forget processes that stopped beating; the games they had connections to, counted again."""
    return await _on_own_thread(store.reap_dead_servers)(alive_since())


def reset() -> None:
    """Forget that this process registered (each test starts with an empty database)."""
    global _registered, _restore_owed, _outage, _serving_since
    _registered = _restore_owed = False
    _outage = _serving_since = None
