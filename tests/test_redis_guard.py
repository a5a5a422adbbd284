"""games/layers/redis_guard.py against a real redis-server that is frozen (SIGSTOP) and woken again:
the first call waits out its timeout, the calls after it fail at once, and once Redis answers a
ping calls go through again; the channel layer's sends are guarded the same way."""

import asyncio
import os
import shutil
import signal

import pytest
import redis.asyncio
from channels.layers import channel_layers
from django.conf import settings
from redis.exceptions import ResponseError

from games.layers import redis_guard
from games.layers.redis_guard import GuardedRedisLayer
from tests import servers
from tests.servers import Redis

pytestmark = pytest.mark.timeout(60)


def guarded_layer(url: str, settings) -> GuardedRedisLayer:
    return GuardedRedisLayer(hosts=[{"address": url, **settings.REDIS_CLIENT_OPTIONS}])


@pytest.fixture
def private_redis(tmp_path, settings):
    servers.require(bool(shutil.which("redis-server")), "redis-server is not installed")
    redis = Redis(tmp_path).start()
    settings.REDIS_URL = redis.url
    settings.REDIS_CLIENT_OPTIONS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "games.layers.redis_guard.GuardedRedisLayer",
            "CONFIG": {"hosts": [{"address": redis.url, **settings.REDIS_CLIENT_OPTIONS}]},
        }
    }
    channel_layers.backends.clear()
    frozen = []

    def freeze():
        os.kill(redis.process.pid, signal.SIGSTOP)
        frozen.append(True)

    def thaw():
        os.kill(redis.process.pid, signal.SIGCONT)
        frozen.clear()

    try:
        yield freeze, thaw
    finally:
        if frozen:
            thaw()
        channel_layers.backends.clear()
        redis.stop()


async def test_a_frozen_redis_costs_one_timeout_then_nothing_until_it_answers(private_redis):
    freeze, thaw = private_redis
    layer = channel_layers["default"]
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "hello"})
    assert (await layer.receive(channel)) == {"type": "hello"}
    assert not redis_guard.is_down()

    freeze()
    loop = asyncio.get_running_loop()
    started = loop.time()
    # Five sends at once: the layer sends one at a time, so without the guard each would wait out
    # a timeout of its own behind the one before (2.5 s); the first to fail calls off the rest.
    sends = [layer.group_send(f"game-{n}", {"type": "game.event"}) for n in range(5)]
    failures = await asyncio.gather(*sends, return_exceptions=True)
    assert all(isinstance(failure, redis_guard.UNREACHABLE) for failure in failures), failures
    assert sum(isinstance(failure, redis_guard.RedisDown) for failure in failures) == 4
    assert 0.5 <= loop.time() - started < 1.0  # the first call waited out its timeout; only it
    assert redis_guard.is_down()
    started = loop.time()
    for _ in range(20):  # the next ones fail at once, without waiting
        with pytest.raises(redis_guard.RedisDown):
            await layer.group_send("some-game", {"type": "game.event"})
    with pytest.raises(redis_guard.RedisDown):
        await layer.send(channel, {"type": "hello"})
    assert loop.time() - started < 0.5

    thaw()
    await asyncio.wait_for(redis_guard.until_up(), 10)
    assert not redis_guard.is_down()
    await layer.send(channel, {"type": "again"})
    assert (await layer.receive(channel)) == {"type": "again"}
    await layer.flush()


async def test_a_command_redis_refuses_does_not_take_it_for_down(private_redis):
    """Only a Redis that cannot be reached or hangs is taken for down: a refused command is the caller's."""
    client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
    with pytest.raises(ResponseError):
        await redis_guard.guarded(client.execute_command("NO-SUCH-COMMAND"))
    assert not redis_guard.is_down()
    await client.aclose()


async def test_a_socket_that_joins_while_redis_is_gone_is_subscribed_once_it_is_back(tmp_path, settings):
    """What GuardedRedisLayer relies on in channels-redis (pinned): while Redis refuses
    connections a new channel and a group membership still work in this process, and once Redis
    is back the membership is made at Redis, so another process's group message reaches it."""
    servers.require(bool(shutil.which("redis-server")), "redis-server is not installed")
    redis = Redis(tmp_path)  # its port is chosen; nothing listens there yet
    settings.REDIS_URL = redis.url
    settings.REDIS_CLIENT_OPTIONS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
    here, elsewhere = guarded_layer(redis.url, settings), guarded_layer(redis.url, settings)
    try:
        channel = await here.new_channel()
        assert redis_guard.is_down()
        await here.group_add("game-1", channel)  # recorded here; made at Redis later
        await here.group_add("game-2", channel)
        await here.group_discard("game-2", channel)  # left before Redis came back: never made
        redis.start()
        await asyncio.wait_for(redis_guard.until_up(), 10)
        await asyncio.wait_for(here.until_joined(), 10)
        await elsewhere.group_send("game-1", {"type": "game.event", "n": 1})
        assert await asyncio.wait_for(here.receive(channel), 5) == {"type": "game.event", "n": 1}
        await elsewhere.group_send("game-2", {"type": "game.event", "n": 2})
        await elsewhere.group_send("game-1", {"type": "game.event", "n": 3})
        assert await asyncio.wait_for(here.receive(channel), 5) == {"type": "game.event", "n": 3}
    finally:
        await here.flush()
        await elsewhere.flush()
        redis.stop()
