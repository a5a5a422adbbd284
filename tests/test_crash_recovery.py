"""A real daphne process killed mid-game loses nothing that anyone saw, and a deploy says goodbye."""

import asyncio
import signal

import pytest

from tests.servers import Daphne, prepare
from tests.wsclient import Player, new_table, play_to_the_end, play_turns

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def server_env(tmp_path):
    return prepare(tmp_path)


def start(env, tmp_path, port=None):
    return Daphne(env, tmp_path / "daphne.log", port=port).start()


async def reconnect(player: Player) -> dict:
    """Reconnect as the browser does: with the token and the last seq seen."""
    for _ in range(50):
        try:
            return await player.connect()
        except OSError:
            await asyncio.sleep(0.1)  # the new process is still binding its port
    raise AssertionError("could not reconnect")


async def test_sigkill_mid_game_loses_no_acknowledged_move(server_env, tmp_path):
    daphne = start(server_env, tmp_path)
    try:
        tables = [await new_table(daphne.url) for _ in range(4)]
        for i, (red, yellow) in enumerate(tables):
            await play_turns(red, yellow, 3 + 4 * i)  # games at different points: 3, 7, 11 and 15 moves
        seen = [(red.seq, [e["seq"] for e in red.events]) for red, _ in tables]
        boards_before = [list(red.heights) for red, _ in tables]
        # One move is in flight when the server dies: nobody knows whether it landed.
        red0, yellow0 = tables[0]
        mover, opponent = (red0, yellow0) if red0.my_turn else (yellow0, red0)
        column = mover.choose()
        await mover.send({"type": "move", "column": column, "move_id": "in-flight"})

        daphne.stop(signal.SIGKILL)
        for red, yellow in tables:
            assert await red.closed_code() == 1006 and await yellow.closed_code() == 1006

        daphne = start(server_env, tmp_path, port=daphne.port)
        for (red, yellow), (seq, _), heights in zip(tables, seen, boards_before, strict=True):
            for player in (red, yellow):
                welcome = await reconnect(player)
                # Every acknowledged or broadcast move is still there, and nothing was repeated.
                assert welcome["seq"] >= seq
                assert all(now >= before for now, before in zip(player.heights, heights, strict=True))
        # The in-flight move is resent and applied exactly once, whether or not it had committed.
        ack = await mover.move(column=column, move_id="in-flight")
        assert ack["type"] == "ack", ack
        if not ack["duplicate"]:  # it had not committed before the crash: it is played now
            await mover.receive("move")
            await opponent.receive("move")
        assert [e.get("move_id") for e in opponent.events].count("in-flight") == 1
        resent = await mover.move(column=column, move_id="in-flight")
        assert (resent["duplicate"], resent["seq"]) == (True, ack["seq"])

        for red, yellow in tables:
            await play_to_the_end(red, yellow)
            assert red.events[-1] == yellow.events[-1]
        for red, yellow in tables:
            await red.close()
            await yellow.close()
    finally:
        daphne.stop()


async def test_sigterm_closes_sockets_with_going_away_and_clients_resume(server_env, tmp_path):
    daphne = start(server_env, tmp_path)
    try:
        red, yellow = await new_table(daphne.url)
        await play_turns(red, yellow, 4)
        watcher = Player(daphne.url, red.game_id)
        await watcher.connect()

        daphne.stop(signal.SIGTERM)
        for player in (red, yellow, watcher):
            assert await player.close_frame() == (1001, "server going away")

        daphne = start(server_env, tmp_path, port=daphne.port)
        for player in (red, yellow, watcher):
            welcome = await reconnect(player)
            assert welcome["seq"] == 6 and welcome["events"] == []
        await play_to_the_end(red, yellow)
        while watcher.seq < red.seq:  # the spectator saw every move after the restart, in order
            await watcher.receive("move")
        assert watcher.events[-1] == red.events[-1] and watcher.state["status"] == "finished"
    finally:
        daphne.stop()
