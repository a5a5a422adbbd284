"""Redis known to be failing: calls to it fail at once, instead of each waiting out its timeout.

A Redis that hangs (a frozen host, packets dropped) answers nothing, so every call waits
``REDIS_TIMEOUT_SECONDS`` before it fails: a move's broadcast, a new socket's slot count, a
seeker's notice, one after another. Once one call has failed that way, this process takes
Redis for down: guarded calls raise :class:`RedisDown` at once, and a probe pings Redis every
``PROBE_SECONDS`` until it answers, when calls go through again. A timeout while this process's
own event loop runs late (a burst of sockets) is not taken for an outage: the loop, not Redis,
kept the answer waiting.

What a failed call stands for is made good elsewhere (docs/deploy.md, "When Redis or PostgreSQL
fails"): sockets on this process are told directly, other processes read the log, the limits let
the call through.

The channel layer is :class:`GuardedRedisLayer` (settings ``CHANNEL_LAYERS``); the per-address
limits guard their own calls (games/web/limits.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable
from typing import TypeVar

import redis.asyncio
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
T = TypeVar("T")

PROBE_SECONDS = 0.5
# An event loop this late is busy with work of its own: a timeout then says nothing about Redis.
CONGESTED_SECONDS = 0.25
# Failures that say Redis is unreachable or hangs (not a command Redis refused).
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, TimeoutError, OSError)
TIMEOUTS = (RedisTimeoutError, TimeoutError)
# redis-py's message when a pooled connection was closed by the server (pinned; tests/test_redis_faults.py
# restarts a real redis-server under sockets and fails if the first send after it is lost).
STALE_CONNECTION = "Connection closed by server."


class RedisDown(RedisConnectionError):
    """Redis failed a call a moment ago and has not answered a ping since: not tried now."""


class _Outage:
    """This event loop's view of Redis: down since a failed call, until a probe's ping answers."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.probe: asyncio.Task | None = None
        self.waiting: set[asyncio.Task] = set()  # tasks awaiting a guarded call now
        self.called_off: set[asyncio.Task] = set()  # of those, the ones cancelled when Redis was found down
        self.tick_due: float | None = None  # when ``watch`` should wake next (None: it is not running)
        self.lag = 0.0  # how late it woke last time: this event loop's own delay

    @property
    def down(self) -> bool:
        return self.probe is not None and not self.probe.done()

    def congested(self) -> bool:
        """Whether this event loop is itself running late (``watch`` woke, or is overdue, by more
        than CONGESTED_SECONDS): a call that timed out then may have waited on the loop, not on
        Redis (a burst of thousands of sockets does it), so the timeout proves nothing about Redis."""
        overdue = self.loop.time() - self.tick_due if self.tick_due is not None else 0.0
        return max(self.lag, overdue) > CONGESTED_SECONDS

    def trip(self, error: Exception) -> None:
        """A call found Redis unreachable: take it for down, and call off the guarded calls still
        waiting (on Redis, or on the channel layer's lock behind the call that failed), which
        would otherwise each wait out a timeout of their own."""
        if self.down:
            return
        log.warning("Redis failed (%s): taken for down until it answers a ping", error)
        self.probe = asyncio.ensure_future(_probe())
        for task in self.waiting - {asyncio.current_task()}:
            self.called_off.add(task)
            task.cancel()


_outage: _Outage | None = None


def _current() -> _Outage:
    global _outage
    loop = asyncio.get_running_loop()
    if _outage is None or _outage.loop is not loop:
        _outage = _Outage(loop)
    return _outage


def is_down() -> bool:
    """Whether this process takes Redis for down (a probe is waiting for it to answer)."""
    return _current().down


async def until_up() -> None:
    """Return once Redis is not taken for down (at once if it is not)."""
    probe = _current().probe
    if probe is not None and not probe.done():
        await asyncio.shield(probe)


def _refusal() -> RedisDown:
    return RedisDown("Redis did not answer a moment ago; waiting for it to come back")


def stale(error: Exception) -> bool:
    """Whether ``error`` is redis-py's for a pooled connection that Redis closed (it restarted since
    the connection was made): not an outage. The call is worth making once more, on a fresh one."""
    return isinstance(error, RedisConnectionError) and str(error) == STALE_CONNECTION


async def guarded(call: Awaitable[T]) -> T:
    """Await ``call`` unless Redis is taken for down (RedisDown, at once); a call that finds it
    unreachable takes it for down until it answers a ping, and calls off the others waiting."""
    outage = _current()
    if outage.down:
        if asyncio.iscoroutine(call):
            call.close()  # never awaited: say so, without a warning
        raise _refusal()
    task = asyncio.current_task()
    outage.waiting.add(task)
    try:
        return await call
    except asyncio.CancelledError:
        if task not in outage.called_off:
            raise  # cancelled by someone else: theirs to handle
        raise _refusal() from None
    except UNREACHABLE as error:
        if not (isinstance(error, TIMEOUTS) and outage.congested()) and not stale(error):
            outage.trip(error)
        raise
    finally:
        outage.waiting.discard(task)
        if task in outage.called_off:
            outage.called_off.discard(task)
            task.uncancel()  # the cancellation was this module's, and is answered by RedisDown


async def _probe() -> None:
    """Ping Redis until it answers; then calls go through again."""
    client = redis.asyncio.Redis.from_url(settings.REDIS_URL, **settings.REDIS_CLIENT_OPTIONS)
    try:
        while True:
            await asyncio.sleep(PROBE_SECONDS)
            with contextlib.suppress(*UNREACHABLE):
                await client.ping()
                log.warning("Redis answers again")
                return
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()


WATCH_SECONDS = 1.0


async def watch() -> None:
    """Ping Redis every ``WATCH_SECONDS`` while it is not taken for down, so that an outage is
    noticed by a process with nothing to send too (its sockets then need what the others commit
    from the log: games/live/sweeper.py reads it while Redis is down)."""
    client = redis.asyncio.Redis.from_url(settings.REDIS_URL, **settings.REDIS_CLIENT_OPTIONS)
    outage = _current()
    try:
        while True:
            outage.tick_due = outage.loop.time() + WATCH_SECONDS
            await asyncio.sleep(WATCH_SECONDS)
            outage.lag = outage.loop.time() - outage.tick_due
            if not is_down():
                with contextlib.suppress(*UNREACHABLE):
                    await guarded(client.ping())
    finally:
        outage.tick_due = None
        with contextlib.suppress(Exception):
            await client.aclose()


async def _once_more_if_stale(send, *args):
    """A guarded send, made once more if it met a connection Redis closed when it restarted."""
    try:
        return await guarded(send(*args))
    except RedisConnectionError as error:
        if not stale(error):
            raise
        return await guarded(send(*args))


class GuardedRedisLayer(RedisPubSubChannelLayer):
    """channels-redis' pub/sub layer, guarded: while Redis is taken for down a send fails at once,
    and a new socket is still served (by this process: its events come from here and from the
    log, as in games/live/registry.py's heal).

    - ``new_channel`` gives, while Redis cannot be reached, a channel of this process only: a
      socket's own channel carries nothing between processes here (groups do).
    - ``group_add`` that cannot reach Redis records the membership in this process and makes the
      subscription at Redis once Redis answers again, unless the socket has left by then.

    Both rest on how channels-redis 4.3 (pinned) keeps a process's channels and memberships:
    tests/test_redis_guard.py fails if that changes.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._joining: dict[tuple[str, str], asyncio.Task] = {}

    async def send(self, channel, message):
        return await _once_more_if_stale(super().__getattr__("send"), channel, message)

    async def group_send(self, group, message):
        return await _once_more_if_stale(super().__getattr__("group_send"), group, message)

    async def new_channel(self, prefix="specific."):
        try:
            return await guarded(super().__getattr__("new_channel")(prefix))
        except UNREACHABLE:
            name = f"{self.prefix}{prefix}{uuid.uuid4().hex}"
            self.channels[name] = asyncio.Queue()  # received from as any channel of this process
            return name

    async def group_add(self, group, channel):
        add = super().__getattr__("group_add")
        try:
            await guarded(add(group, channel))
        except UNREACHABLE:
            self.groups.setdefault(self._get_group_channel_name(group), set()).add(channel)
            key = (group, channel)
            if key not in self._joining:
                self._joining[key] = asyncio.ensure_future(self._add_once_up(key, add))

    async def _add_once_up(self, key: tuple[str, str], add) -> None:
        """Subscribe at Redis for a membership made while it was down, once it answers."""
        try:
            while True:
                await until_up()
                with contextlib.suppress(*UNREACHABLE):
                    await guarded(add(*key))
                    return
                await asyncio.sleep(PROBE_SECONDS)
        finally:
            self._joining.pop(key, None)

    async def until_joined(self) -> None:
        """Return once every membership made while Redis was down is made at Redis (or dropped)."""
        await asyncio.gather(*self._joining.values(), return_exceptions=True)

    async def group_discard(self, group, channel):
        joining = self._joining.pop((group, channel), None)
        if joining is not None:
            joining.cancel()
        with contextlib.suppress(*UNREACHABLE):  # leaving needs nothing from Redis to be done here
            await super().__getattr__("group_discard")(group, channel)
