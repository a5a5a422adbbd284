"""A real daphne killed with SIGKILL while a player's clock runs with seconds left, and started
again after longer than that: the player has not lost, and the log says how much time came back."""

import asyncio
import json
import signal
import subprocess
import sys
import time

import pytest

from tests.servers import ROOT, Daphne, prepare
from tests.wsclient import Player, api

pytestmark = pytest.mark.timeout(120)


def create_timed_game(env) -> tuple[str, str]:
    """A game with a short clock (the presets are minutes long), made by the server's own code."""
    code = (
        "import json; from games import store; from games.clock import TimeControl; "
        "print(json.dumps(store.create_game('connect4', TimeControl(6000, 0, 20000))))"
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True, capture_output=True
    )
    game_id, token = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return game_id, token


async def reconnect(player: Player) -> dict:
    for _ in range(50):
        try:
            return await player.connect()
        except OSError:
            await asyncio.sleep(0.1)  # the new process is still binding its port
    raise AssertionError("could not reconnect")


async def test_a_crash_longer_than_the_time_left_does_not_lose_the_game_on_time(tmp_path):
    env = prepare(tmp_path)
    daphne = Daphne(env, tmp_path / "daphne.log").start()
    try:
        game_id, token = create_timed_game(env)
        joined = api(daphne.url, f"/api/games/{game_id}/join")
        red, yellow = Player(daphne.url, game_id, token), Player(daphne.url, game_id, joined["token"])
        await red.connect()
        await yellow.connect()
        for mover, other in ((red, yellow), (yellow, red)):  # the first moves: the main clocks start after them
            await mover.move(column=3)
            await mover.receive("move")
            await other.receive("move")
        assert red.events[-1]["clock"]["running"] == 1  # red has 6 s

        daphne.stop(signal.SIGKILL)
        killed_at = time.monotonic()
        await asyncio.sleep(8)  # the outage itself: longer than red's 6 s
        daphne = Daphne(env, tmp_path / "daphne.log", port=daphne.port).start()
        outage = time.monotonic() - killed_at

        welcome = await reconnect(red)
        await reconnect(yellow)
        assert welcome["game"]["status"] == "playing", welcome["game"]
        credit = next(event for event in welcome["events"] if event["type"] == "clock_credit")
        assert credit["given_back_ms"]["2"] == 0
        assert outage * 1000 - 500 <= credit["given_back_ms"]["1"] <= outage * 1000 + 3000  # up to a beat before
        assert welcome["game"]["clock"]["remaining"]["1"] > 3000
        ack = await red.move(column=4)
        assert ack["type"] == "ack", ack
        move = await yellow.receive("move")
        assert move["clock"]["running"] == 2 and move["clock"]["remaining"]["1"] > 3000
        await red.close()
        await yellow.close()
    finally:
        daphne.stop()
