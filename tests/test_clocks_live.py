"""Timed games through the consumers, the API, the sweeper and the database: the flag falls with
nobody sending, a late move is refused and ends the game on time, a missed first move calls the
game off, and an outage with no server serving is given back once."""

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from games.core import clock
from games.core.clock import TimeControl
from games.live import liveness, registry, sweeper, timers
from games.live.game import now_ms
from games.models import Game, GameEvent, Server
from tests.memory import forget_the_process

pytestmark = pytest.mark.django_db(transaction=True)


async def timed_game(sockets, control):
    """A timed game with both players and a spectator welcomed, play just started."""
    game_id, token1 = await registry.create_game(control=control)
    red = await sockets(game_id)
    await red.hello(token=token1)
    yellow = await sockets(game_id)
    await yellow.hello()
    await yellow.send(type="join")
    await yellow.receive_type("seated")
    watcher = await sockets(game_id)
    await watcher.hello()
    for socket in (red, yellow):
        await socket.receive_type("joined")
    return game_id, red, yellow, watcher


async def first_moves(red, yellow, watcher):
    for mover, column in ((red, 3), (yellow, 3)):
        await mover.send(type="move", column=column)
        await mover.receive_type("ack")
        for socket in (red, yellow, watcher):
            await socket.receive_type("move")


@database_sync_to_async
def log_of(game_id):
    return list(GameEvent.objects.filter(game_id=game_id).values_list("kind", "seat", "data"))


async def test_the_flag_falls_by_itself_and_everyone_sees_the_loss_on_time(sockets):
    control = TimeControl(initial_ms=600, increment_ms=0, first_move_ms=5_000)
    game_id, red, yellow, watcher = await timed_game(sockets, control)
    await first_moves(red, yellow, watcher)
    # Red's 0.6 s run out with nobody sending anything.
    seen = [await socket.receive_type("timeout", timeout=3) for socket in (red, yellow, watcher)]
    assert seen[0] == seen[1] == seen[2]
    assert (seen[0]["seat"], seen[0]["result"], seen[0]["winner"]) == (1, "timeout", 2)
    assert seen[0]["clock"]["remaining"]["1"] == 0 and seen[0]["clock"]["running"] is None
    game = await database_sync_to_async(Game.objects.get)(pk=game_id)
    assert (game.status, game.result, game.winner, game.clock_deadline) == ("finished", "timeout", 2, None)
    kinds = [kind for kind, _, _ in await log_of(game_id)]
    assert kinds.count("timeout") == 1 and kinds[-1] == "timeout"


async def test_a_move_in_time_is_charged_and_the_welcome_shows_the_running_clock(sockets):
    control = TimeControl(initial_ms=30_000, increment_ms=1_000, first_move_ms=5_000)
    game_id, red, yellow, watcher = await timed_game(sockets, control)
    await first_moves(red, yellow, watcher)
    await red.send(type="move", column=4)
    await red.receive_type("ack")
    move = await watcher.receive_type("move")
    assert 30_000 < move["clock"]["remaining"]["1"] <= 31_000  # less the thinking time, plus 1 s
    assert move["clock"]["running"] == 2 and move["clock"]["first_move_in"] is None
    late = await sockets(game_id)
    snapshot = (await late.hello())["game"]["clock"]
    assert snapshot["time_control"] == "30s+1" and snapshot["running"] == 2
    assert snapshot["remaining"]["2"] <= 30_000


async def test_a_move_after_the_deadline_is_refused_and_the_game_ends_on_time(sockets, monkeypatch):
    # The game's own timer fires late here, so the move reaches the server first.
    monkeypatch.setattr(timers, "FLAG_MARGIN_SECONDS", 30)
    control = TimeControl(initial_ms=300, increment_ms=0, first_move_ms=5_000)
    game_id, red, yellow, watcher = await timed_game(sockets, control)
    await first_moves(red, yellow, watcher)
    deadline = registry.live_games()[0].match.deadline_ms
    await asyncio.sleep((deadline - now_ms()) / 1000 + 0.02)  # wall-clock time itself must pass
    await red.send(type="move", column=4)
    refused = await red.receive_type("error")
    assert refused["code"] == "out_of_time"
    for socket in (red, yellow, watcher):
        timeout = await socket.receive_type("timeout")
        assert (timeout["seat"], timeout["winner"]) == (1, 2)
    kinds = [kind for kind, _, _ in await log_of(game_id)]
    assert kinds.count("move") == 2 and kinds[-1] == "timeout"


async def test_a_missed_first_move_calls_the_game_off(sockets):
    control = TimeControl(initial_ms=60_000, increment_ms=0, first_move_ms=400)
    game_id, red, yellow, watcher = await timed_game(sockets, control)
    for socket in (red, yellow, watcher):
        aborted = await socket.receive_type("aborted", timeout=3)
        assert aborted["code"] == "first_move" and aborted["result"] == "aborted" and aborted["winner"] is None


async def test_the_sweeper_flags_a_game_nobody_holds(sockets, settings):
    settings.GAME_SWEEP_INTERVAL_SECONDS = 0.05
    control = TimeControl(initial_ms=300, increment_ms=0, first_move_ms=5_000)
    game_id, red, yellow, watcher = await timed_game(sockets, control)
    await first_moves(red, yellow, watcher)
    for socket in (red, yellow, watcher):
        await socket.close()
    assert registry.live_games() == []  # the last socket gone, nobody holds it: no timer runs for it
    sweeper.ensure_running()
    for _ in range(200):
        game = await database_sync_to_async(Game.objects.get)(pk=game_id)
        if game.status == "finished":
            break
        await asyncio.sleep(0.05)
    assert (game.status, game.result, game.winner) == ("finished", "timeout", 2)


@database_sync_to_async
def a_server_that_stopped(ago_seconds):
    Server.objects.create(id="gone", host="old", pid=1, seen_at=timezone.now() - timedelta(seconds=ago_seconds))


async def test_a_process_starting_after_an_outage_gives_the_time_back_once(sockets):
    control = TimeControl(initial_ms=60_000, increment_ms=0, first_move_ms=30_000)
    game_id, red, yellow, watcher = await timed_game(sockets, control)
    await first_moves(red, yellow, watcher)
    for socket in (red, yellow, watcher):
        await socket.close()
    # As if every server had stopped 8 s ago and this process were the first to start again.
    forget_the_process()
    await a_server_that_stopped(8)
    await database_sync_to_async(Server.objects.exclude(pk="gone").delete)()
    await timers.ready()
    credits = [data for kind, _, data in await log_of(game_id) if kind == "clock_credit"]
    assert len(credits) == 1
    assert 0 < credits[0]["given_back_ms"]["1"] <= 8_500 and credits[0]["given_back_ms"]["2"] == 0
    # Another process starting from the same outage gives nothing more.
    forget_the_process()
    await database_sync_to_async(Server.objects.exclude(pk="gone").delete)()
    await timers.ready()
    assert [kind for kind, _, _ in await log_of(game_id)].count("clock_credit") == 1
    assert liveness.SERVER_ID


async def test_a_process_joining_live_ones_gives_nothing_back(sockets):
    control = TimeControl(initial_ms=60_000, increment_ms=0, first_move_ms=30_000)
    game_id, red, yellow, watcher = await timed_game(sockets, control)
    await first_moves(red, yellow, watcher)
    forget_the_process()
    await a_server_that_stopped(1)  # another process beat a second ago
    await timers.ready()
    assert "clock_credit" not in [kind for kind, _, _ in await log_of(game_id)]


def test_the_api_creates_a_timed_game_and_refuses_an_unknown_time_control(client):
    created = client.post("/api/games", {"time_control": "3+2"}, content_type="application/json")
    assert created.status_code == 201
    game = client.get(f"/api/games/{created.json()['id']}").json()
    assert game["clock"]["time_control"] == "3+2" and game["clock"]["remaining"] == {"1": 180_000, "2": 180_000}
    assert Game.objects.get(pk=created.json()["id"]).time_control == "3+2"
    untimed = client.post("/api/games", {}, content_type="application/json").json()
    assert client.get(f"/api/games/{untimed['id']}").json()["clock"] is None
    refused = client.post("/api/games", {"time_control": "2+1"}, content_type="application/json")
    assert refused.status_code == 400 and refused.json()["code"] == "bad_field"


def test_the_new_game_button_takes_a_time_control(client):
    response = client.post("/games/new", {"time_control": "10+5"})
    assert response.status_code == 302
    assert Game.objects.get().time_control == "10+5"
    assert client.post("/games/new", {"time_control": "9+9"}).status_code == 400
    assert Game.objects.count() == 1


async def test_a_bot_tests_its_loss_on_time_in_seconds_with_an_extra_time_control(sockets, async_client, settings):
    """GAME_EXTRA_TIME_CONTROLS: what the protocol offers bot authors so a flag test needs no minute."""
    settings.GAME_EXTRA_TIME_CONTROLS = ("1s+0",)
    settings.GAME_FIRST_MOVE_SECONDS = 5
    created = await async_client.post("/api/games", {"time_control": "1s+0"}, content_type="application/json")
    assert created.status_code == 201
    game_id = created.json()["id"]
    joined = (await async_client.post(f"/api/games/{game_id}/join")).json()
    red, yellow = await sockets(game_id), await sockets(game_id)
    welcome = await red.hello(token=created.json()["token"])
    assert welcome["game"]["clock"]["time_control"] == "1s+0"
    assert welcome["game"]["clock"]["remaining"] == {"1": 1000, "2": 1000}
    await yellow.hello(token=joined["token"])
    await red.send(type="move", column=3)
    await yellow.receive_type("move")
    await yellow.send(type="move", column=3)
    await yellow.receive_type("ack")
    await yellow.receive_type("move")  # its own, as everyone sees it
    timeout = await yellow.receive_type("timeout", timeout=3)  # Red's second runs out
    assert (timeout["seat"], timeout["winner"], timeout["result"]) == (1, 2, "timeout")


@pytest.mark.parametrize("name", ["1s+0", "60s+0", "0+0", "10s", "s+1", "ten+0"])
def test_an_extra_time_control_is_refused_unless_the_server_allows_it(client, name):
    """Only the presets, and names the server lists, are accepted; a bad name in the setting stops it."""
    refused = client.post("/api/games", {"time_control": name}, content_type="application/json")
    assert refused.status_code == 400 and refused.json()["code"] == "bad_field"
    assert not Game.objects.exists()


@pytest.mark.parametrize(
    ("name", "amounts"),
    [("1+0", (60_000, 0)), ("10+5", (600_000, 5_000)), ("10s+0", (10_000, 0)), ("90s+1", (90_000, 1_000))],
)
def test_time_control_names_read_both_ways(name, amounts):
    assert clock.amounts(name) == amounts
    assert TimeControl(*amounts, first_move_ms=0).name == name


@pytest.mark.parametrize("name", ["60s+0", "0+0", "0s+0", "10s", "+1", "1.5+0", "-1+0"])
def test_a_time_control_written_wrongly_is_refused(name):
    with pytest.raises(clock.BadTimeControl):
        clock.amounts(name)
