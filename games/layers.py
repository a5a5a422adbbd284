"""The Redis channel layer, with a connection pool that makes a burst wait instead of fail.

channels-redis builds redis-py's default pool, which raises ``MaxConnectionsError``
once 100 commands are in flight: a few hundred sockets connecting at once (each
``group_add`` borrows a connection) are enough. A blocking pool of bounded size
queues them instead, so thousands of sockets per process share a few connections.

redis-py 8 also gives every read a 5 s socket timeout, the same 5 s that channels-redis
blocks in BZPOPMIN waiting for messages: the client gave up just as the server answered
"nothing yet", failing a socket every few seconds ("Timeout reading from ..."). Reads get
a timeout well past the blocking wait.
"""

from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool


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
