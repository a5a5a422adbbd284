"""A Redis that hangs (stopped with SIGSTOP, as a frozen host or a network dropping packets would
leave it) must not hang the server: every call to it gives up after REDIS_TIMEOUT_SECONDS.

A real daphne on a private redis-server; the database (SQLite here) keeps working throughout.
"""

import asyncio
import os
import shutil
import signal

import pytest
from websockets.exceptions import ConnectionClosed

from tests import servers
from tests.servers import Daphne, Redis, prepare
from tests.wsclient import Player, api, new_table

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def frozen_redis_server(tmp_path):
    """A daphne on its own redis-server, and a way to stop and resume that Redis."""
    servers.require(bool(shutil.which("redis-server")), "redis-server is not installed")
    redis = Redis(tmp_path).start()
    daphne = Daphne(prepare(tmp_path, REDIS_URL=redis.url), tmp_path / "daphne.log").start()
    stopped = []

    def freeze():
        os.kill(redis.process.pid, signal.SIGSTOP)
        stopped.append(True)

    try:
        yield daphne, freeze
    finally:
        if stopped:
            os.kill(redis.process.pid, signal.SIGCONT)
        daphne.stop()
        redis.stop()


async def test_a_frozen_redis_answers_new_sockets_and_acks_instead_of_hanging(frozen_redis_server):
    daphne, freeze = frozen_redis_server
    red, yellow = await new_table(daphne.url)
    await red.move(3)
    await yellow.receive("move")
    game = api(daphne.url, "/api/games")
    freeze()

    # A new socket gets an answer: a welcome (the database still works) or 1012 to come back later,
    # never a handshake left without an HTTP response (before: dropped after about 9 s).
    newcomer = Player(daphne.url, game["id"], game["token"])
    try:
        welcome = await asyncio.wait_for(newcomer.connect(), 8)
        assert welcome["seat"] == 1
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 1012
    finally:
        if newcomer.ws is not None:
            await newcomer.ws.close()

    # A move committed while Redis is frozen is acknowledged after at most one Redis timeout
    # (the broadcast gives up), not when Redis wakes.
    await yellow.send({"type": "move", "column": 2, "move_id": "yellow-while-frozen"})
    ack = await yellow.receive("ack", timeout=4)
    assert ack["move_id"] == "yellow-while-frozen" and ack["duplicate"] is False
    await red.close()
    await yellow.close()
