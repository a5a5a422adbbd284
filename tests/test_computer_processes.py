"""The computer on real server processes: a daphne killed with SIGKILL while the computer has the
move, started again, takes that turn once and the game plays to its end; and the search done by an
engine worker of its own through the task queue (``manage.py db_worker``), or by the server itself
when no worker answers."""

import json
import signal
import sqlite3
import subprocess
import sys
import urllib.request

import pytest

from tests.servers import ROOT, Daphne, prepare
from tests.test_crash_recovery import reconnect
from tests.wsclient import Player

pytestmark = pytest.mark.timeout(120)


def create_computer_game(base_url: str, **fields) -> dict:
    body = json.dumps({"opponent": "computer", **fields}).encode()
    request = urllib.request.Request(
        base_url + "/api/games", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def log_of(env: dict, game_id: str) -> list[tuple[int, str, int | None]]:
    database = env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT seq, kind, seat FROM games_gameevent WHERE game_id = ? ORDER BY seq", [game_id])
        return list(rows)


async def play_the_computer_to_the_end(player: Player) -> dict:
    """Move whenever it is the person's turn and wait for the computer's reply, until the game ends."""
    while player.state["status"] == "playing":
        if player.my_turn:
            ack = await player.move()
            assert ack["type"] == "ack", ack
        await player.receive("move", "resigned", "timeout", "aborted", timeout=30)
    return player.state


def assert_moves_alternate(log: list[tuple[int, str, int | None]]) -> None:
    seats = [seat for _, kind, seat in log if kind == "move"]
    assert seats == [1 + i % 2 for i in range(len(seats))], seats


async def test_a_sigkill_while_the_computer_has_the_move_then_it_moves_once_and_the_game_ends(tmp_path):
    # A long pause before the computer's move, so that the process dies with the turn under way.
    env = prepare(tmp_path, GAME_COMPUTER_PACE="40", GAME_COMPUTER_THINK_SECONDS="0.3")
    daphne = Daphne(env, tmp_path / "daphne.log").start()
    try:
        created = create_computer_game(daphne.url, level=4, seat=2)
        game_id, token = created["id"], created["token"]
        assert created["computer"]["seat"] == 1
        person = Player(daphne.url, game_id, token)
        welcome = await person.connect()
        assert welcome["game"]["turn"] == 1 and not any(e["type"] == "move" for e in welcome["events"])
        daphne.stop(signal.SIGKILL)
        assert [kind for _, kind, _ in log_of(env, game_id)] == ["created", "joined"]  # the turn was not taken

        # Started again with no pause: nobody in this process was on the turn; its sweeper takes it.
        restarted = {**env, "GAME_COMPUTER_PACE": "0", "GAME_COMPUTER_STALL_SECONDS": "1"}
        daphne = Daphne(restarted, tmp_path / "daphne.log", port=daphne.port).start()
        welcome = await reconnect(person)
        if person.state["turn"] == 1:
            await person.receive("move", timeout=30)
        assert person.events[-1]["type"] == "move" and person.events[-1]["seat"] == 1
        final = await play_the_computer_to_the_end(person)
        assert final["status"] == "finished"
        await person.close()
    finally:
        daphne.stop()
    log = log_of(env, game_id)
    assert [kind for _, kind, _ in log[:3]] == ["created", "joined", "move"]
    assert_moves_alternate(log)


def task_rows(env: dict) -> list[tuple[str, str]]:
    database = env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        return list(db.execute("SELECT status, worker_ids FROM django_tasks_database_dbtaskresult"))


class EngineWorker:
    """``manage.py db_worker`` for the engine's queue, as a deployment runs it."""

    def __init__(self, env: dict, log_path):
        self.env, self.log_path, self.process = env, log_path, None

    def start(self) -> "EngineWorker":
        args = ["--queue-name", "engine", "--interval", "0.05", "--worker-id", "engine-1", "--no-startup-delay"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "db_worker", *args], cwd=ROOT, env=self.env, stdout=log, stderr=log
            )
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


async def test_an_engine_worker_of_its_own_thinks_for_the_computer_through_the_task_queue(tmp_path):
    env = prepare(tmp_path, GAME_ENGINE_BACKEND="tasks", GAME_COMPUTER_PACE="0", GAME_ENGINE_TASK_WAIT_SECONDS="1")
    worker = EngineWorker(env, tmp_path / "worker.log").start()
    daphne = Daphne(env, tmp_path / "daphne.log").start()
    try:
        created = create_computer_game(daphne.url, level=3, seat=1)
        person = Player(daphne.url, created["id"], created["token"])
        await person.connect()
        for _ in range(2):
            assert (await person.move())["type"] == "ack"
            await person.receive("move")  # the person's own
            reply = await person.receive("move", timeout=30)
            assert reply["seat"] == 2
        # Both searches ran on the worker, none here.
        assert task_rows(env) == [("SUCCESSFUL", '["engine-1"]')] * 2

        # No worker: the server waits its budget and a little more, then thinks for itself.
        worker.stop()
        assert (await person.move())["type"] == "ack"
        await person.receive("move")
        reply = await person.receive("move", timeout=30)
        assert reply["seat"] == 2
        assert sorted(status for status, _ in task_rows(env)) == ["READY", "SUCCESSFUL", "SUCCESSFUL"]
        await person.close()
    finally:
        daphne.stop()
        worker.stop()
    assert_moves_alternate(log_of(env, created["id"]))
