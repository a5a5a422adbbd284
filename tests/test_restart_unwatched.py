"""A server process does its timed work from the moment it serves, with nobody connected to it.

A real daphne is killed with SIGKILL while a timed game's clock runs and the computer is thinking
in another game, and started again with no socket opening at all. Watched only through the
database and the JSON API (neither is a socket): the outage is given back once, as of when serving
began and no more; the clock then runs out and the game ends on time; the computer's turn that
the crash left hanging is taken.
"""

import asyncio
import json
import signal
import sqlite3
import time
import urllib.request

import pytest

from tests.servers import Daphne, prepare
from tests.test_clock_outage import create_timed_games
from tests.test_computer_processes import create_computer_game
from tests.wsclient import Player, api

pytestmark = pytest.mark.timeout(120)

SWEEP = 0.5  # GAME_SWEEP_INTERVAL_SECONDS here: it bounds how late the sweeper's work may come
SLACK_MS = 2000  # a loaded test machine: the loop, the database and the poll below may each lag


def wall_ms() -> int:
    return int(time.time() * 1000)


def rows(env: dict, sql: str, *params) -> list[tuple]:
    database = env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return db.execute(sql, params).fetchall()


def events(env: dict, game_id: str, kind: str) -> list[tuple[int | None, dict]]:
    sql = "SELECT seat, data FROM games_gameevent WHERE game_id = ? AND kind = ? ORDER BY seq"
    found = rows(env, sql, game_id, kind)
    return [(seat, json.loads(data)) for seat, data in found]


async def until(condition, timeout: float):
    """Poll the database until ``condition()`` returns something true. Nothing can be awaited: the
    point is that no socket is open, so no event is pushed to anyone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"not seen within {timeout} s")


def game_state(daphne: Daphne, game_id: str) -> dict:
    with urllib.request.urlopen(f"{daphne.url}/api/games/{game_id}", timeout=10) as response:
        return json.load(response)


async def test_a_restarted_process_with_nobody_connected_credits_flags_and_moves_for_the_computer(tmp_path):
    env = prepare(
        tmp_path,
        GAME_SWEEP_INTERVAL_SECONDS=str(SWEEP),
        GAME_OUTAGE_AFTER_SECONDS="2",
        # A long pause before the computer's move, so that the process dies with the turn under way.
        GAME_COMPUTER_PACE="40",
        GAME_COMPUTER_THINK_SECONDS="0.3",
    )
    daphne = Daphne(env, tmp_path / "daphne.log").start()
    try:
        ((game_id, token),) = create_timed_games(env, 1, 8000)  # red will have 8 s
        joined = api(daphne.url, f"/api/games/{game_id}/join")
        red, yellow = Player(daphne.url, game_id, token), Player(daphne.url, game_id, joined["token"])
        await red.connect()
        await yellow.connect()
        for mover, other in ((red, yellow), (yellow, red)):  # the first moves: then red's main clock runs
            await mover.move(column=3)
            await mover.receive("move")
            await other.receive("move")
        assert red.events[-1]["clock"]["running"] == 1
        computer_game = create_computer_game(daphne.url, level=4, seat=2)["id"]  # the computer moves first
        await red.close()
        await yellow.close()

        daphne.stop(signal.SIGKILL)
        killed_ms = wall_ms()
        assert [kind for (kind,) in rows(env, "SELECT kind FROM games_gameevent WHERE game_id = ?", computer_game)] == [
            "created",
            "joined",
        ]  # the computer's turn was under way
        await asyncio.sleep(4)  # the outage: nothing runs, so nothing to wait on but the clock

        restarted = {**env, "GAME_COMPUTER_PACE": "0", "GAME_COMPUTER_STALL_SECONDS": "1"}
        starting_ms = wall_ms()
        daphne = Daphne(restarted, tmp_path / "daphne.log", port=daphne.port).start()  # polls /healthz only
        serving_ms = wall_ms()

        # The outage is given back at once, as of when serving began: no more than the outage itself.
        ((seat, credit),) = await until(lambda: events(env, game_id, "clock_credit"), timeout=10)
        assert seat is None and credit["given_back_ms"]["2"] == 0
        assert starting_ms <= credit["at"] <= serving_ms, (starting_ms, credit, serving_ms)
        assert killed_ms - SWEEP * 1000 - SLACK_MS <= credit["outage_from"] <= killed_ms  # the last beat
        # Red's clock ran through all of the outage (from the last beat, or from red's turn if later).
        assert credit["at"] - killed_ms <= credit["given_back_ms"]["1"] <= credit["at"] - credit["outage_from"]
        state = game_state(daphne, game_id)
        assert state["status"] == "playing" and state["clock"]["running"] == 1
        deadline_ms = wall_ms() + state["clock"]["remaining"]["1"]

        # Red's clock runs out and the game ends on time, with nobody connected.
        ((loser, timeout),) = await until(lambda: events(env, game_id, "timeout"), timeout=20)
        seen_ms = wall_ms()
        assert loser == 1
        assert deadline_ms - SLACK_MS <= timeout["at"] <= deadline_ms + 1.5 * SWEEP * 1000 + SLACK_MS
        assert seen_ms <= deadline_ms + 1.5 * SWEEP * 1000 + SLACK_MS
        state = game_state(daphne, game_id)
        assert (state["status"], state["result"], state["winner"]) == ("finished", "timeout", 2)

        # The computer's turn the crash left hanging is taken, once, with nobody connected.
        ((mover, _),) = await until(lambda: events(env, computer_game, "move"), timeout=20)
        assert mover == 1
        assert game_state(daphne, computer_game)["turn"] == 2

        connected = rows(
            env,
            "SELECT count(*) FROM games_connection c JOIN games_server s ON s.id = c.server_id WHERE s.pid = ?",
            daphne.process.pid,
        )
        assert connected == [(0,)]  # nobody ever greeted the restarted process
    finally:
        daphne.stop()
