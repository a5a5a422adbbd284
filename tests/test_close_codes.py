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


async def test_a_socket_opened_while_its_process_has_lost_redis_is_welcomed_not_sent_away(tmp_path):
    """Redis goes away: a new socket is no longer told to come back (1012) but welcomed, its process
    serving it from the database; once Redis is back the process serves as before. (1012 remains
    for a channel layer failing in a way the server cannot work around: sending it through the
    lean server is tested in tests/test_websocket_protocol.py.)"""
    require(bool(shutil.which("redis-server")), "redis-server is not installed")
    redis = Redis(tmp_path).start()
    daphne = Daphne(prepare(tmp_path, REDIS_URL=redis.url), tmp_path / "daphne.log").start()
    try:
        game_id = api(daphne.url, "/api/games")["id"]
        redis.stop()
        for _ in range(2):  # the first meets Redis gone; the second finds it known to be down
            ws = await open_socket(daphne, game_id)
            await ws.send('{"type": "hello"}')
            assert '"welcome"' in await asyncio.wait_for(ws.recv(), 10)
            await ws.close()
        redis.start()
        ws = await open_socket(daphne, game_id)
        await ws.send('{"type": "hello"}')
        assert '"welcome"' in await asyncio.wait_for(ws.recv(), 10)
        await ws.close()
    finally:
        daphne.stop()
        redis.stop()
