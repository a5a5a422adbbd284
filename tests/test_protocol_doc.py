"""The bot in docs/protocol.md really plays a whole game against a real server."""

import asyncio
import re
import sys
from pathlib import Path

import pytest

from tests.servers import Daphne, prepare
from tests.wsclient import Player, api

DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"

pytestmark = pytest.mark.timeout(120)


def bot_source(base_url: str) -> str:
    section = DOC.read_text().split("## A bot in a few lines", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    return code.replace('BASE = "http://127.0.0.1:8000"', f'BASE = "{base_url}"')


async def test_the_documented_bot_plays_a_game_to_the_end(tmp_path):
    daphne = Daphne(prepare(tmp_path), tmp_path / "daphne.log").start()
    bot = None
    try:
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-c", bot_source(daphne.url), stdout=asyncio.subprocess.PIPE
        )
        invite = (await asyncio.wait_for(bot.stdout.readline(), 20)).decode()
        game_id = re.search(r"/g/(\w+)/", invite).group(1)
        joined = api(daphne.url, f"/api/games/{game_id}/join")
        friend = Player(daphne.url, game_id, joined["token"])
        await friend.connect()
        while friend.state["status"] == "playing":
            if friend.my_turn:
                await friend.move(column=6 if friend.heights[6] < 6 else None)
            await friend.receive("move")
        output = (await asyncio.wait_for(bot.stdout.read(), 20)).decode()
        assert await bot.wait() == 0
        assert "Over: finished" in output
        assert api(daphne.url, f"/api/games/{game_id}", method="GET")["status"] == "finished"
        await friend.close()
    finally:
        if bot is not None and bot.returncode is None:
            bot.kill()
        daphne.stop()
