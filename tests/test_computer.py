"""Games against the computer through the consumers, the registry, the sweeper and the database:
its moves are committed and broadcast like anyone's, it never moves twice for a turn, it opens
when it plays Red, agrees to a rematch, never counts as away, and a turn nobody took (the
thinking process died) is taken by the sweeper."""

import asyncio
import os
import random
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient
from django.utils import timezone

from games.core.clock import TimeControl
from games.core.match import new_match
from games.core.rules import IllegalMove
from games.live import computer, registry
from games.live.game import now_ms
from games.models import Game, GameEvent
from games.storage import store
from tests.test_views import client_config

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quick_computer(settings):
    """No pause before the computer's moves, and a small budget: the tests play many of them."""
    settings.GAME_COMPUTER_PACE = 0
    settings.GAME_COMPUTER_THINK_SECONDS = 0.2


@database_sync_to_async
def log_of(game_id):
    return list(GameEvent.objects.filter(game_id=game_id).order_by("seq").values_list("seq", "kind", "seat", "data"))


@database_sync_to_async
def game_count():
    return Game.objects.count()


@database_sync_to_async
def game_row(game_id):
    return Game.objects.get(pk=game_id)


def free_column(board):
    """The first column, centre outwards, with room for a disc."""
    return next(c for c in (3, 2, 4, 1, 5, 0, 6) if board[-1][c] == 0)


async def test_a_game_against_the_computer_is_played_to_the_end_through_the_consumer(sockets):
    game_id, token = await computer.create_game(human_seat=1, level=3)
    player, watcher = await sockets(game_id), await sockets(game_id)
    welcome = await player.hello(token=token)
    assert welcome["seat"] == 1 and welcome["game"]["status"] == "playing"
    assert welcome["game"]["computer"] == {"seat": 2, "level": 3, "name": "Club player"}
    await watcher.hello()
    board, last = welcome["game"]["board"], None
    while True:
        await player.send(type="move", column=free_column(board))
        ack = await player.receive_type("ack")
        mine = await player.receive_type("move")
        assert (mine["seq"], mine["seat"]) == (ack["seq"], 1)
        board[mine["row"]][mine["column"]] = 1
        if mine["status"] != "playing":
            last = mine
            break
        reply = await player.receive_type("move", timeout=10)
        assert reply["seat"] == 2 and reply["seq"] == mine["seq"] + 1
        board[reply["row"]][reply["column"]] = 2
        if reply["status"] != "playing":
            last = reply
            break
    assert last["status"] == "finished"
    # The spectator saw every move, in order; the log holds them with the computer's seat.
    log = await log_of(game_id)
    moves = [(seq, seat) for seq, kind, seat, _ in log if kind == "move"]
    assert [seat for _, seat in moves] == [1, 2] * (len(moves) // 2) + [1] * (len(moves) % 2)
    seen = []
    while len(seen) < len(moves):
        event = await watcher.receive_type("move", timeout=5)
        seen.append((event["seq"], event["seat"]))
    assert seen == moves
    game = await game_row(game_id)
    assert (game.status, game.computer_seat, game.computer_level, game.computer_turn_since) == (
        "finished",
        2,
        3,
        None,
    )


async def test_the_computer_opens_when_it_plays_red_and_its_move_is_in_the_log(sockets):
    game_id, token = await computer.create_game(human_seat=2, level=1)
    player = await sockets(game_id)
    welcome = await player.hello(token=token)
    assert welcome["seat"] == 2
    opening = next((e for e in welcome["events"] if e["type"] == "move"), None) or await player.receive_type(
        "move", timeout=10
    )
    assert opening["seat"] == 1 and opening["turn"] == 2
    kinds = [(kind, seat) for _, kind, seat, _ in await log_of(game_id)]
    assert kinds == [("created", 1), ("joined", 2), ("move", 1)]
    assert (await game_row(game_id)).computer_turn_since is None  # the person's turn now


async def test_nobody_can_play_the_computers_seat(sockets):
    game_id, _ = await computer.create_game(human_seat=1, level=2)
    stranger = await sockets(game_id)
    welcome = await stranger.hello(token="")
    assert welcome["seat"] is None
    await stranger.send(type="join")
    assert (await stranger.receive_type("error"))["code"] == "seat_taken"
    with pytest.raises(IllegalMove) as refusal:
        await registry.move(game_id, None, {"column": 3})
    assert refusal.value.code == "spectator"


async def test_the_computer_moves_once_for_a_turn_however_many_try(sockets):
    game_id, token = await computer.create_game(human_seat=1, level=1)
    await registry.move(game_id, 1, {"column": 3})
    seq = (await registry.get(game_id)).match.seq
    # Two processes (here: two calls) move for the same turn at once: one move, one refusal.
    results = await asyncio.gather(
        computer.computer_move(game_id, seq, {"column": 0}),
        computer.computer_move(game_id, seq, {"column": 6}),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, IllegalMove)]
    assert len(refused) in (1, 2)  # the thinking task may have moved first
    assert all(r.code == "stale" for r in refused)
    await asyncio.wait_for(computer.settled(game_id), 10)
    moves = [seat for _, kind, seat, _ in await log_of(game_id) if kind == "move"]
    assert moves == [1, 2]
    with pytest.raises(IllegalMove) as late:
        await computer.computer_move(game_id, seq, {"column": 1})
    assert late.value.code == "stale"


async def test_the_computer_agrees_to_a_rematch_at_once_and_the_colours_swap(sockets):
    game_id, token = await computer.create_game(human_seat=1, level=4)
    player = await sockets(game_id)
    await player.hello(token=token)
    await player.send(type="resign")
    assert (await player.receive_type("resigned"))["winner"] == 2
    await player.send(type="rematch")
    rematch = await player.receive_type("rematch")
    new_id = rematch["game_id"]
    new_game = await game_row(new_id)
    assert (new_game.computer_seat, new_game.computer_level, new_game.rematch_of_id) == (1, 4, game_id)
    # The same token holds the other seat; the computer, now Red, opens.
    again = await sockets(new_id)
    welcome = await again.hello(token=token)
    assert welcome["seat"] == 2 and welcome["game"]["computer"]["seat"] == 1
    opening = next((e for e in welcome["events"] if e["type"] == "move"), None) or await again.receive_type(
        "move", timeout=10
    )
    assert opening["seat"] == 1


async def test_play_again_after_a_game_against_the_computer_is_the_rematch(sockets):
    """The page's Play again: the same level and time control, the colours swapped; pressed again
    (a second tab), the same game; nobody else can press it, and nothing is made before the end."""
    browser = AsyncClient()
    created = await browser.post("/computer", {"level": "4", "seat": "1", "time_control": "5+0"})
    game_id = created.url.split("/")[2]
    page = await browser.get(created.url)
    assert b'data-again="computer"' in page.content
    assert b"The computer again: level 4 (Strong), 5+0, you play Yellow." in page.content
    early = await browser.post(f"/g/{game_id}/again")
    assert early.url == f"/g/{game_id}/" and await game_count() == 1  # not over: nothing made

    await registry.resign(game_id, 1)
    stranger = await AsyncClient().post(f"/g/{game_id}/again")
    assert stranger.url == f"/g/{game_id}/" and await game_count() == 1
    again = await browser.post(f"/g/{game_id}/again")
    new_id = again.url.split("/")[2]
    new_game = await game_row(new_id)
    assert (new_game.computer_seat, new_game.computer_level) == (1, 4)
    assert (new_game.time_control, new_game.rematch_of_id, new_game.status) == ("5+0", game_id, "playing")
    assert (await browser.post(f"/g/{game_id}/again")).url == again.url  # the same game, not another
    assert await game_count() == 2
    config = client_config(await browser.get(again.url))
    assert config["seat"] == 2
    player = await sockets(new_id)
    welcome = await player.hello(token=config["token"])
    assert welcome["seat"] == 2 and welcome["game"]["clock"]["time_control"] == "5+0"
    opening = next((e for e in welcome["events"] if e["type"] == "move"), None) or await player.receive_type(
        "move", timeout=10
    )
    assert opening["seat"] == 1  # the computer, Red now, opens


async def test_the_computer_is_never_away_so_nobody_claims_a_win_from_it(sockets):
    game_id, token = await computer.create_game(human_seat=1, level=2)
    player = await sockets(game_id)
    welcome = await player.hello(token=token)
    assert welcome["presence"]["players"] == {"1": True, "2": True}
    assert welcome["presence"]["away"] == {"1": None, "2": None}
    await player.send(type="claim_win")
    assert (await player.receive_type("error"))["code"] == "opponent_present"
    game = await game_row(game_id)
    assert game.seat2_away_since is None


async def test_a_turn_nobody_took_is_taken_by_the_sweeper_exactly_once(settings):
    """As after a crash while the computer was thinking: the turn is in the database, no process is
    on it. Two sweeps of two processes find it; the computer moves once."""
    settings.GAME_COMPUTER_STALL_SECONDS = 1
    game_id, _ = await database_sync_to_async(store.create_computer_game)("connect4", None, 2, 3, now_ms())
    past = timezone.now() - timedelta(seconds=5)
    await database_sync_to_async(Game.objects.filter(pk=game_id).update)(computer_turn_since=past)
    await asyncio.gather(computer.take_untaken_turns(), computer.take_untaken_turns())
    await asyncio.wait_for(computer.settled(game_id), 10)
    await computer.take_untaken_turns()  # nothing left to take
    await asyncio.wait_for(computer.settled(game_id), 10)
    kinds = [(kind, seat) for _, kind, seat, _ in await log_of(game_id)]
    assert kinds == [("created", 1), ("joined", 2), ("move", 1)]


async def test_the_computers_moves_carry_both_clocks_in_a_timed_game(sockets):
    control = TimeControl(initial_ms=60_000, increment_ms=0, first_move_ms=30_000)
    game_id, token = await computer.create_game(control=control, human_seat=1, level=5)
    player = await sockets(game_id)
    await player.hello(token=token)
    for column in (3, 3):
        await player.send(type="move", column=column)
        await player.receive_type("ack")
        await player.receive_type("move")
        reply = await player.receive_type("move", timeout=10)
        assert reply["seat"] == 2 and len(reply["clocks"]) == 2
        assert reply["clock"]["running"] == 1
    # From the second move on the computer's clock runs, and it thinks within what it has.
    assert 0 < reply["clocks"][1] <= 60_000


def test_the_pause_before_a_move_rises_with_the_level_for_every_draw(settings):
    """The natural pauses: for any random draw, no level waits longer than a stronger one, so the
    beginner is never the slowest to answer; the stronger levels wait a little longer, not more."""
    settings.GAME_COMPUTER_PACE = 1
    for seed in range(500):
        pauses = [
            computer.plan(replace(new_match("connect4"), computer=(2, level)), 0, random.Random(seed))[1]
            for level in range(1, 6)
        ]
        assert pauses == sorted(pauses), (seed, pauses)
        assert pauses[0] >= 0.5 and pauses[-1] <= 1.2, (seed, pauses)


async def test_level_1_answers_no_later_than_level_5_through_the_consumer(sockets, settings, monkeypatch):
    """The same conditions for both: the same random draw for every turn, the engine's worker
    already up, twice the natural pace so that the pauses outweigh the machine's noise. The time
    from creating the game to its opening move on the person's socket is level 1's no longer."""
    settings.GAME_COMPUTER_PACE = 2
    monkeypatch.setattr(computer, "seed_for", lambda game_id, seq: 20_261_206)
    await asyncio.get_running_loop().run_in_executor(computer.pool(), os.getpid)
    answered = {}
    for level in (1, 5):
        began = time.monotonic()
        game_id, token = await computer.create_game(human_seat=2, level=level)
        player = await sockets(game_id)
        welcome = await player.hello(token=token)
        if not any(event["type"] == "move" for event in welcome["events"]):
            await player.receive_type("move", timeout=10)
        answered[level] = time.monotonic() - began
    print(f"the opening move came after {answered[1]:.2f} s at level 1, {answered[5]:.2f} s at level 5")
    assert answered[1] <= answered[5], answered


async def test_a_computer_game_can_be_created_through_the_api(async_client):
    response = await async_client.post(
        "/api/games",
        {"opponent": "computer", "level": 5, "seat": 2, "time_control": "3+2"},
        content_type="application/json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["seat"] == 2 and body["computer"] == {"seat": 1, "level": 5, "name": "Expert"}
    game = await game_row(body["id"])
    assert (game.status, game.time_control, game.computer_seat, game.computer_level) == ("playing", "3+2", 1, 5)
    await asyncio.wait_for(computer.settled(body["id"]), 10)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"level": 0}, "'level'"),
        ({"level": 6}, "'level'"),
        ({"level": "expert"}, "'level'"),
        ({"level": True}, "'level'"),
        ({"level": "5"}, "'level'"),  # the API takes JSON numbers, as the protocol says
        ({"seat": "2"}, "'seat'"),
        ({"seat": 3}, "'seat'"),
        ({"seat": "red"}, "'seat'"),
        ({"opponent": "robot"}, "'opponent'"),
        ({"time_control": "2+1"}, "'time_control'"),
    ],
)
async def test_a_bad_computer_game_request_is_refused_and_creates_nothing(async_client, fields, message):
    response = await async_client.post(
        "/api/games", {"opponent": "computer", **fields}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad_field" and message in response.json()["message"]
    assert not await Game.objects.aexists()


async def test_the_home_pages_form_starts_a_game_against_the_computer_in_the_browsers_seat(async_client):
    home = await async_client.get("/")
    assert b"Play the computer" in home.content and b"5 \xc2\xb7 Expert" in home.content
    response = await async_client.post("/computer", {"level": "1", "seat": "1", "time_control": "untimed"})
    assert response.status_code == 302 and response.url.startswith("/g/")
    game_id = response.url.strip("/").split("/")[-1]
    game = await game_row(game_id)
    assert (game.status, game.computer_seat, game.computer_level, game.time_control) == ("playing", 2, 1, "")
    page = await async_client.get(response.url)
    assert b'"seat": 1' in page.content  # the page's script holds seat 1's token


async def test_the_home_pages_form_refuses_a_bad_level_and_says_why(async_client):
    response = await async_client.post("/computer", {"level": "9", "seat": "random"})
    assert response.status_code == 400
    assert b"&#x27;level&#x27; must be a whole number from 1 to 5." in response.content
    assert not await Game.objects.aexists()


def test_the_search_runs_in_worker_processes_below_the_servers_priority():
    """Off the event loop and out of the server's process, at a lower priority, so the sockets
    keep the processor while the computer thinks."""
    import os

    workers = computer.pool()
    assert workers.submit(os.getpid).result(timeout=60) != os.getpid()
    assert workers.submit(os.nice, 0).result(timeout=60) == min(19, os.nice(0) + 10)
