"""Per-address limits: how often one client may create or join games, and how many sockets it may hold.

A client is its real address (:func:`client_address`): the TCP peer, or, when that peer is a
proxy we trust, the address the proxy saw. With ``REDIS_URL`` set, every process counts in
Redis, so an address cannot double its quota by reaching two processes; otherwise each process
counts for itself. A Redis that fails lets the request through (and logs it): the limits guard
against abuse and must not take the site down with them.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import math
import time
from collections import Counter

import redis.asyncio
from django.conf import settings
from limits import RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from redis.exceptions import RedisError

from games import metrics
from games.layers import redis_guard
from games.live import liveness

log = logging.getLogger(__name__)

CREATE, JOIN, SEEK = "create", "join", "seek"
REDIS_ERRORS = (OSError, RedisError, StorageError)
KEY_PREFIX = "game-limits"


# ----- Who is asking ---------------------------------------------------------------


@functools.cache
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _trusted(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(scope) -> str:
    """The client's address, for an HTTP request's or a socket's ASGI scope.

    Directly, the TCP peer. From a trusted proxy (``GAME_TRUSTED_PROXIES``), the
    ``X-Forwarded-For`` list read from the right, skipping trusted proxies: the first address
    no trusted proxy vouches for is the client. Anything left of it was written by the client
    and could be anything. A peer nobody trusts cannot choose its address with a header.
    """
    peer = (scope.get("client") or (None,))[0] or ""
    networks = _networks(tuple(settings.GAME_TRUSTED_PROXIES))
    if not _trusted(peer, networks):
        return peer
    hops = [
        hop.strip()
        for name, value in scope.get("headers", ())
        if name == b"x-forwarded-for"
        for hop in value.decode("latin-1").split(",")
    ]
    address = peer
    for hop in reversed(hops):
        try:
            address = str(ipaddress.ip_address(hop))
        except ValueError:
            break  # garbage from beyond the last proxy: the hop that passed it on is the client
        if not _trusted(address, networks):
            break
    return address


def request_address(request) -> str | None:
    """:func:`client_address` of a Django request; None for one made in code with no address
    (a test's ``force_login``). Also what the admin login limits count (``AXES_CLIENT_IP_CALLABLE``)."""
    scope = getattr(request, "scope", None)
    if scope is None:  # a WSGI request (Django's test client): the parts of a scope the address needs
        if not request.META.get("REMOTE_ADDR"):
            return None
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
        headers = [(b"x-forwarded-for", forwarded.encode("latin-1"))] if forwarded else []
        scope = {"client": (request.META["REMOTE_ADDR"], 0), "headers": headers}
    return client_address(scope) or None


# ----- How often -------------------------------------------------------------------


def _item(action: str) -> RateLimitItemPerSecond:
    """``burst`` calls in any window of ``burst / per_minute`` minutes: at most ``per_minute`` a
    minute on average, and never more than ``burst`` at once."""
    per_minute, burst = {
        CREATE: (settings.GAME_CREATE_PER_MINUTE, settings.GAME_CREATE_BURST),
        JOIN: (settings.GAME_JOIN_PER_MINUTE, settings.GAME_JOIN_BURST),
        SEEK: (settings.GAME_SEEK_PER_MINUTE, settings.GAME_SEEK_BURST),
    }[action]
    return RateLimitItemPerSecond(burst, max(1, math.ceil(burst * 60 / per_minute)))


# Connections to Redis per process and event loop, for each of the rates and the socket counts,
# and how long a check waits for one.
REDIS_CONNECTIONS = 20
REDIS_WAIT_SECONDS = 10


def _redis_pool() -> redis.asyncio.BlockingConnectionPool:
    """A pool that makes a burst wait its turn. redis-py's default pool refuses the 101st caller
    at once ("Too many connections"): in a burst of thousands of sockets an arrival then went
    uncounted, a departure left a phantom count, and a flood of calls would pass unchecked."""
    return redis.asyncio.BlockingConnectionPool.from_url(
        settings.REDIS_URL,
        max_connections=REDIS_CONNECTIONS,
        timeout=REDIS_WAIT_SECONDS,
        **settings.REDIS_CLIENT_OPTIONS,  # a Redis that hangs fails each call in about a second
    )


_limiter: tuple[asyncio.AbstractEventLoop, MovingWindowRateLimiter] | None = None


def _rate_limiter() -> MovingWindowRateLimiter:
    """One limiter per event loop (its storage's connections and timers belong to a loop).

    A moving window, not a fixed one: a fixed window would let twice the burst through
    across a window's edge."""
    global _limiter
    loop = asyncio.get_running_loop()
    if _limiter is None or _limiter[0] is not loop:
        if settings.REDIS_URL:
            uri = "async+" + settings.REDIS_URL
            storage = storage_from_string(
                uri, implementation="redispy", key_prefix=KEY_PREFIX, connection_pool=_redis_pool()
            )
        else:
            storage = storage_from_string("async+memory://")
        _limiter = (loop, MovingWindowRateLimiter(storage))
    return _limiter[1]


async def _guarded(call):
    """A limiter's call, guarded when it goes to Redis (games/layers/redis_guard.py); in memory as it is."""
    return await (redis_guard.guarded(call) if settings.REDIS_URL else call)


async def retry_after(action: str, address: str) -> int | None:
    """Count one ``action`` by ``address``: None if allowed, else the seconds until it would be."""
    item, limiter = _item(action), _rate_limiter()
    try:
        if await _guarded(limiter.hit(item, action, address)):
            return None
        stats = await _guarded(limiter.get_window_stats(item, action, address))
    except REDIS_ERRORS as error:
        log.warning("rate limit of %s not checked, its storage failed: %s", action, error)
        return None
    metrics.record_refusal(action)
    return max(1, math.ceil(stats.reset_time - time.time()))


# ----- How many sockets ------------------------------------------------------------

# A count of open sockets, not a rate, so a rate limiter does not fit. In Redis, one hash per
# address holds a count per process (field: the process's SERVER_ID); a process says it is alive
# with a key that expires unless its sweeper renews it each beat. Opening a socket sums the
# counts of the processes still alive, drops those of dead ones (killed processes leave no
# phantom sockets behind) and takes a slot if one is free, all in one script, so two processes
# cannot both take the last slot. The database's connection rows would not do: they record
# only sockets that said hello, and reading them in every handshake costs a query.
OPEN_SCRIPT = """
local total = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
    if fields[i] == ARGV[1] or redis.call('EXISTS', ARGV[3] .. fields[i]) == 1 then
        total = total + tonumber(fields[i + 1])
    else
        redis.call('HDEL', KEYS[1], fields[i])
    end
end
if total >= tonumber(ARGV[2]) then
    return 0
end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], 86400)
redis.call('SET', ARGV[3] .. ARGV[1], 1, 'EX', ARGV[4])
return 1
"""
CLOSE_SCRIPT = """
if tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') > 0 then
    redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
end
return 1
"""

_open_here: Counter[str] = Counter()  # without Redis: this process's sockets by address
_redis: tuple[asyncio.AbstractEventLoop, redis.asyncio.Redis, dict] | None = None


def _client() -> tuple[redis.asyncio.Redis, dict]:
    """This event loop's Redis client, and the scripts registered with it (sent once, then run by hash)."""
    global _redis
    loop = asyncio.get_running_loop()
    if _redis is None or _redis[0] is not loop:
        client = redis.asyncio.Redis(connection_pool=_redis_pool())
        scripts = {"open": client.register_script(OPEN_SCRIPT), "close": client.register_script(CLOSE_SCRIPT)}
        _redis = (loop, client, scripts)
    return _redis[1], _redis[2]


def _alive_ttl() -> int:
    return max(2, math.ceil(settings.GAME_SERVER_TIMEOUT_SECONDS))


async def open_socket(address: str) -> bool:
    """Take one of ``address``'s socket slots; False if it holds ``GAME_MAX_SOCKETS_PER_ADDRESS`` already."""
    taken = await _take_socket_slot(address)
    if not taken:
        metrics.record_refusal("sockets")
    return taken


async def _take_socket_slot(address: str) -> bool:
    cap = settings.GAME_MAX_SOCKETS_PER_ADDRESS
    if not settings.REDIS_URL:
        if _open_here[address] >= cap:
            return False
        _open_here[address] += 1
        return True
    key, alive = f"{KEY_PREFIX}:sockets:{address}", f"{KEY_PREFIX}:alive:"
    try:
        script = _client()[1]["open"]
        return bool(await redis_guard.guarded(script(keys=[key], args=[liveness.SERVER_ID, cap, alive, _alive_ttl()])))
    except REDIS_ERRORS as error:
        log.warning("socket count of %s not checked, Redis failed: %s", address, error)
        return True


async def close_socket(address: str) -> None:
    """Give back the slot :func:`open_socket` took."""
    if not settings.REDIS_URL:
        _open_here[address] -= 1
        if _open_here[address] <= 0:
            del _open_here[address]
        return
    try:
        await redis_guard.guarded(
            _client()[1]["close"](keys=[f"{KEY_PREFIX}:sockets:{address}"], args=[liveness.SERVER_ID])
        )
    except REDIS_ERRORS as error:
        log.warning("socket of %s not uncounted, Redis failed: %s", address, error)


async def beat() -> None:
    """Say this process is alive, so its sockets keep counting (the sweeper calls it each beat)."""
    if not settings.REDIS_URL:
        return
    try:
        await redis_guard.guarded(_client()[0].set(f"{KEY_PREFIX}:alive:{liveness.SERVER_ID}", 1, ex=_alive_ttl()))
    except REDIS_ERRORS as error:
        log.warning("socket counts not renewed, Redis failed: %s", error)
