"""Channel layers: Channels' in-memory layer without its per-message sweep, and the Redis
layer with a connection pool that makes a burst wait instead of fail.

Channels' in-memory layer walks every channel queue and every group membership on
each ``receive`` and ``group_send`` to drop expired entries: work in proportion to
the sockets of the whole process for every message, which at a few thousand sockets
costs more than everything else a move does. :class:`InMemoryLayer` sweeps at most
once a second, and hands a group message to each member's queue directly instead
of through a task per member.

channels-redis builds redis-py's default pool, which raises ``MaxConnectionsError``
once 100 commands are in flight: a few hundred sockets connecting at once (each
``group_add`` borrows a connection) are enough. A blocking pool of bounded size
queues them instead, so thousands of sockets per process share a few connections.

redis-py 8 also gives every read a 5 s socket timeout, the same 5 s that channels-redis
blocks in BZPOPMIN waiting for messages: the client gave up just as the server answered
"nothing yet", failing a socket every few seconds ("Timeout reading from ..."). Reads get
a timeout well past the blocking wait.
"""

import contextlib
import time

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool


class InMemoryLayer(InMemoryChannelLayer):
    SWEEP_SECONDS = 1.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._next_sweep = 0.0

    def _clean_expired(self):
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            super()._clean_expired()

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            with contextlib.suppress(ChannelFull):  # as in the stock layer: a member this far behind misses it
                await self.send(channel, message)


class PooledRedisChannelLayer(RedisChannelLayer):
    def __init__(self, *args, pool_size: int = 50, pool_timeout: float = 20, **kwargs):
        super().__init__(*args, **kwargs)
        self.pool_size = pool_size
        self.pool_timeout = pool_timeout

    def create_pool(self, index):
        host = dict(self.hosts[index])
        address = host.pop("address")
        host.setdefault("socket_timeout", self.brpop_timeout + 10)
        return BlockingConnectionPool.from_url(
            address, max_connections=self.pool_size, timeout=self.pool_timeout, **host
        )
