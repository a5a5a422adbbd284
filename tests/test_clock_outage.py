"""Clocks on real servers: a daphne killed with SIGKILL while a player's clock runs with seconds
left, and started again after longer than that (the player has not lost, and the log says how much
time came back); two processes behind nginx racing to end the same games on time (once each)."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from tests import servers
from tests.servers import ROOT, Daphne, Nginx, PostgresDatabase, Redis, prepare
from tests.test_crash_recovery import reconnect
from tests.wsclient import Player, api

pytestmark = pytest.mark.timeout(120)


def create_timed_games(env, count: int, clock_ms: int) -> list[tuple[str, str]]:
    """Games with a short clock (20 s for first moves), made by the server's own code."""
    code = (
        "import json; from games.storage import store; from games.core.clock import TimeControl; "
        f"print(json.dumps([store.create_game('connect4', TimeControl({clock_ms}, 0, 20000)) for _ in range({count})]))"
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True, capture_output=True
    )
    return [tuple(pair) for pair in json.loads(out.stdout.decode().strip().splitlines()[-1])]


def create_timed_game(env) -> tuple[str, str]:
    """A game whose seat 1 will have 6 s on its clock (the presets are minutes long)."""
    return create_timed_games(env, 1, 6000)[0]


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
        credit = next((event for event in welcome["events"] if event["type"] == "clock_credit"), None)
        if credit is None:  # given back as the game was loaded again, just after this welcome
            credit = await red.receive("clock_credit")
        assert credit["given_back_ms"]["2"] == 0
        assert outage * 1000 - 500 <= credit["given_back_ms"]["1"] <= outage * 1000 + 3000  # up to a beat before
        assert credit["clock"]["remaining"]["1"] > 3000
        ack = await red.move(column=4)
        assert ack["type"] == "ack", ack
        move = await yellow.receive("move")
        assert move["clock"]["running"] == 2 and move["clock"]["remaining"]["1"] > 3000
        await red.close()
        await yellow.close()
    finally:
        daphne.stop()


async def test_two_processes_behind_nginx_racing_to_flag_end_each_game_once(tmp_path):
    servers.require_shared_services()
    database = PostgresDatabase(f"clocks_{os.getpid()}").create()
    redis = Redis(tmp_path).start()
    daphnes, nginx = [], None
    try:
        env = prepare(tmp_path, DATABASE_URL=database.url, REDIS_URL=redis.url, GAME_TRUSTED_PROXIES="127.0.0.1")
        daphnes = [Daphne(env, tmp_path / f"daphne-{i}.log").start() for i in range(2)]
        nginx = Nginx(tmp_path, [d.port for d in daphnes]).start()
        tables = []
        for game_id, token in create_timed_games(env, 10, 1500):
            joined = api(nginx.url, f"/api/games/{game_id}/join")
            # Round-robin: the two players of a game land on different processes, so both hold it
            # and both processes' timers fire at its deadline.
            red, yellow = Player(nginx.url, game_id, token), Player(nginx.url, game_id, joined["token"])
            await red.connect()
            await yellow.connect()
            tables.append((red, yellow))
        for red, yellow in tables:
            for mover, other in ((red, yellow), (yellow, red)):
                await mover.move(column=3)
                await mover.receive("move")
                await other.receive("move")
        for red, yellow in tables:  # nobody moves again: red's 1.5 s run out
            for player in (red, yellow):
                timeout = await player.receive("timeout", timeout=15)
                assert (timeout["seat"], timeout["winner"], timeout["result"]) == (1, 2, "timeout")
        with psycopg.connect(database.url) as db:
            rows = db.execute(
                "SELECT game_id, count(*) FROM games_gameevent WHERE kind = 'timeout' GROUP BY game_id"
            ).fetchall()
            holders = db.execute("SELECT count(DISTINCT server_id) FROM games_connection").fetchone()[0]
        assert sorted(game_id for game_id, _ in rows) == sorted(red.game_id for red, _ in tables)
        assert {count for _, count in rows} == {1}  # exactly one timeout per game
        assert holders == 2  # the sockets were spread over both processes
        for red, yellow in tables:
            assert [e["type"] for e in red.events].count("timeout") == 1
            await red.close()
            await yellow.close()
    finally:
        if nginx is not None:
            nginx.stop()
        for daphne in daphnes:
            daphne.stop()
        redis.stop()
        database.drop()
