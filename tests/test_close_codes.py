"""Close codes and reasons reach a real client of a real daphne, as docs/protocol.md lists them.

Daphne alone drops every close reason and cannot send the codes only a server sends (1001,
1012...): autobahn's ``sendClose`` refuses them, and the socket stays open with nothing behind
it. These tests run ``daphne config.asgi:application`` as deployed and read the close frames
with an ordinary client, so they fail if the lean server stops being the one daphne builds.
"""

import asyncio
import shutil

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.servers import Daphne, Redis, prepare, require
from tests.wsclient import api, close_frame

pytestmark = pytest.mark.timeout(90)


async def open_socket(daphne: Daphne, game_id: str):
    url = daphne.url.replace("http", "ws", 1) + f"/ws/games/{game_id}/"
    return await connect(url, origin=daphne.url, open_timeout=10)


async def test_an_unknown_game_is_closed_with_4404_and_its_reason(tmp_path):
    daphne = Daphne(prepare(tmp_path), tmp_path / "daphne.log").start()
    try:
        ws = await open_socket(daphne, "ZZZZZZZZ")
        assert await close_frame(ws) == (4404, "unknown game")
    finally:
        daphne.stop()


async def test_a_socket_whose_process_lost_redis_is_closed_with_1012(tmp_path):
    """Redis goes away: a socket that cannot join its game's group is told to come back (1012, a
    code autobahn refuses to send for an application), and the process serves again once Redis
    is back."""
    require(bool(shutil.which("redis-server")), "redis-server is not installed")
    redis = Redis(tmp_path).start()
    daphne = Daphne(prepare(tmp_path, REDIS_URL=redis.url), tmp_path / "daphne.log").start()
    try:
        game_id = api(daphne.url, "/api/games")["id"]
        redis.stop()
        ws = await open_socket(daphne, game_id)
        assert await close_frame(ws) == (1012, "service restart")
        redis.start()
        for _ in range(50):  # the layer reconnects on its next use; nothing to wait on from outside
            ws = await open_socket(daphne, game_id)
            await ws.send('{"type": "hello"}')
            try:
                if '"welcome"' in await ws.recv():
                    break
            except ConnectionClosed:  # refused with 1012 again: not reconnected yet
                await asyncio.sleep(0.2)
        else:
            raise AssertionError("the process never served the game again after Redis came back")
        await ws.close()
    finally:
        daphne.stop()
        redis.stop()
