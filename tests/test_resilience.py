"""Nobody loses a game: acks and resent moves, resuming, resigning, abandonment, rematch."""

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from games.core.match import apply_event, decide_move, replay_with_history
from games.live import game as live_game
from games.live import registry
from games.models import Game, GameEvent
from games.storage import store
from tests.conftest import Socket
from tests.memory import forget_the_process
from tests.test_consumers import play_moves, seated_game

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def event_kinds(game_id):
    return list(GameEvent.objects.filter(game_id=game_id).values_list("kind", flat=True))


async def presence_when(socket, predicate):
    """The first presence update that satisfies ``predicate`` (earlier ones are stale)."""
    while not predicate(presence := await socket.receive_type("presence")):
        pass
    return presence


def seat_two_gone(presence):
    return presence["players"]["2"] is False


# ----- Acknowledged, idempotent moves -------------------------------------------


async def test_a_move_is_acknowledged_and_a_resent_move_is_applied_once(sockets):
    game_id, red, yellow, watcher, token1, _ = await seated_game(sockets)
    await red.send(type="move", column=3, move_id="red-1")
    ack = await red.receive_type("ack")
    assert ack == {"type": "ack", "seq": 3, "move_id": "red-1", "duplicate": False}
    event = await yellow.receive_type("move")
    assert (event["seq"], event["move_id"]) == (3, "red-1")
    await watcher.receive_type("move")
    # The ack was lost: the client resends the same move after reconnecting.
    await red.close()
    red = await sockets(game_id)
    welcome = await red.hello(token=token1, last_seq=2)
    assert welcome["events"][0]["move_id"] == "red-1"  # the resumed client can see it landed
    await red.send(type="move", column=3, move_id="red-1")
    again = await red.receive_type("ack")
    assert again == {"type": "ack", "seq": 3, "move_id": "red-1", "duplicate": True}
    assert await yellow.nothing_more() and await watcher.nothing_more()
    assert (await Game.objects.aget(pk=game_id)).seq == 3
    assert await event_kinds(game_id) == ["created", "joined", "move"]


async def test_a_resent_winning_move_is_acknowledged_not_refused(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await play_moves([0, 1, 0, 1, 0, 1], red, yellow, watcher)
    await red.send(type="move", column=0, move_id="win")
    assert (await red.receive_type("ack"))["seq"] == 9
    assert (await red.receive_type("move"))["status"] == "finished"
    await red.send(type="move", column=0, move_id="win")
    assert await red.receive_type("ack") == {"type": "ack", "seq": 9, "move_id": "win", "duplicate": True}


async def test_move_ids_belong_to_their_seat(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await red.send(type="move", column=0, move_id="m1")
    await red.receive_type("ack")
    await yellow.receive_type("move")
    await yellow.send(type="move", column=1, move_id="m1")
    assert (await yellow.receive_type("ack"))["duplicate"] is False


@pytest.mark.parametrize("move_id", ["", 7, "x" * 65, ["a"]])
async def test_bad_move_ids_are_refused(sockets, move_id):
    game_id, red, *_ = await seated_game(sockets)
    await red.send(type="move", column=0, move_id=move_id)
    assert (await red.receive_type("error"))["code"] == "bad_field"


# ----- Resuming -------------------------------------------------------------------


async def test_a_client_ahead_of_the_server_gets_a_snapshot_to_rebuild_from(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    again = await sockets(game_id)
    welcome = await again.hello(last_seq=50)
    assert (welcome["complete"], welcome["events"], welcome["game"]["seq"]) == (False, [], 2)


async def test_a_client_too_far_behind_gets_a_snapshot(sockets, monkeypatch):
    monkeypatch.setattr(live_game, "REPLAY_LIMIT", 3)
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await play_moves([0, 1, 0], red, yellow, watcher)
    welcome = await (await sockets(game_id)).hello(last_seq=1)
    assert (welcome["complete"], welcome["events"]) == (False, [])
    assert welcome["game"]["board"][1][0] == 1
    welcome = await (await sockets(game_id)).hello(last_seq=2)
    assert welcome["complete"] is True and [e["seq"] for e in welcome["events"]] == [3, 4, 5]


# ----- Resign and abort -----------------------------------------------------------


async def test_resigning_gives_the_opponent_the_win(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await play_moves([3, 3], red, yellow, watcher)
    await yellow.send(type="resign")
    for socket in (red, yellow, watcher):
        event = await socket.receive_type("resigned")
        assert (event["seat"], event["winner"], event["result"], event["status"]) == (2, 1, "resigned", "finished")
    game = await Game.objects.aget(pk=game_id)
    assert (game.result, game.winner) == ("resigned", 1)


async def test_only_players_of_a_started_game_can_resign(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await watcher.send(type="resign")
    assert (await watcher.receive_type("error"))["code"] == "spectator"
    fresh_id, token = await registry.create_game()
    creator = await sockets(fresh_id)
    await creator.hello(token=token)
    await creator.send(type="resign")
    assert (await creator.receive_type("error"))["code"] == "not_started"


async def test_a_player_can_abort_before_both_have_moved_but_not_after(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await play_moves([3], red, yellow, watcher)
    await yellow.send(type="abort")
    event = await watcher.receive_type("aborted")
    assert (event["seat"], event["reason"], event["result"]) == (2, "Yellow aborted the game.", "aborted")

    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await play_moves([3, 4], red, yellow, watcher)
    await red.send(type="abort")
    assert (await red.receive_type("error"))["code"] == "too_late"


async def test_the_creator_can_call_off_a_game_nobody_joined(sockets):
    game_id, token = await registry.create_game()
    creator = await sockets(game_id)
    await creator.hello(token=token)
    await creator.send(type="abort")
    assert (await creator.receive_type("aborted"))["status"] == "aborted"


# ----- Presence and abandonment ---------------------------------------------------


async def test_a_player_who_leaves_is_shown_away_and_can_be_claimed_after_the_grace(sockets, settings):
    settings.GAME_CLAIM_AFTER_SECONDS = 0
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await red.send(type="claim_win")
    assert (await red.receive_type("error"))["code"] == "opponent_present"
    await yellow.close()
    presence = await presence_when(red, seat_two_gone)
    assert presence["players"] == {"1": True, "2": False}
    assert presence["away"]["2"]["claim_in"] == 0 and presence["away"]["1"] is None
    assert (await Game.objects.aget(pk=game_id)).seat2_away_since is not None  # the deadline is stored
    await watcher.send(type="claim_win")
    assert (await watcher.receive_type("error"))["code"] == "spectator"
    await red.send(type="claim_win")
    event = await watcher.receive_type("abandoned")
    assert (event["seat"], event["winner"], event["result"]) == (2, 1, "abandoned")


async def test_claiming_too_early_says_how_long_to_wait(sockets, settings):
    settings.GAME_CLAIM_AFTER_SECONDS = 60
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await yellow.close()
    presence = await presence_when(red, seat_two_gone)
    assert 59 <= presence["away"]["2"]["claim_in"] <= 60
    await red.send(type="claim_win")
    error = await red.receive_type("error")
    assert error["code"] == "too_early" and "60 s" in error["message"]


async def test_coming_back_clears_the_away_mark(sockets, settings):
    game_id, red, yellow, watcher, token1, token2 = await seated_game(sockets)
    await yellow.close()
    await presence_when(red, seat_two_gone)
    back = await sockets(game_id)
    await back.hello(token=token2)
    presence = await presence_when(red, lambda p: p["players"]["2"])
    assert presence["away"]["2"] is None
    assert (await Game.objects.aget(pk=game_id)).seat2_away_since is None


async def test_the_away_deadline_survives_a_restart(sockets, settings):
    settings.GAME_CLAIM_AFTER_SECONDS = 0
    game_id, red, yellow, watcher, token1, _ = await seated_game(sockets)
    await yellow.close()
    for socket in (red, watcher):
        await socket.close()
    forget_the_process()  # the process forgets everything; the database remembers
    red = await sockets(game_id)
    welcome = await red.hello(token=token1)
    assert welcome["presence"]["away"]["2"]["claim_in"] == 0
    await red.send(type="claim_win")
    assert (await red.receive_type("abandoned"))["winner"] == 1


async def test_a_player_away_past_the_long_limit_loses_by_themselves(sockets, settings):
    settings.GAME_FORFEIT_AFTER_SECONDS = 0.2
    settings.GAME_SWEEP_INTERVAL_SECONDS = 0.05
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await yellow.close()
    event = await watcher.receive_type("abandoned", timeout=5)
    assert (event["seat"], event["winner"]) == (2, 1)


async def test_when_both_players_are_gone_past_the_limit_the_game_is_aborted(sockets, settings):
    settings.GAME_SWEEP_INTERVAL_SECONDS = 0.05
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await red.close()
    await yellow.close()
    await presence_when(watcher, lambda p: p["away"]["1"] and p["away"]["2"])
    settings.GAME_FORFEIT_AFTER_SECONDS = 0  # both are now past the limit at the next sweep
    event = await watcher.receive_type("aborted", "abandoned", timeout=5)
    assert (event["type"], event["reason"]) == ("aborted", "Both players left.")


# ----- A broadcast the channel layer lost ---------------------------------------------


@database_sync_to_async
def move_from_another_process(game_id, seat, column):
    """What another process does for a move: decide against the log and commit. Its broadcast never comes."""
    stored = store.load_game(game_id, timezone.now())
    match, _ = replay_with_history(stored.kind, stored.events)
    event = decide_move(match, seat, {"column": column, "move_id": "elsewhere"})
    store.append_event(store.Append(game_id, event, apply_event(match, event)))


async def test_a_move_whose_broadcast_was_lost_reaches_everyone_at_the_next_sweep(sockets, settings):
    """Redis pub/sub keeps nothing for a process while it reconnects: the sweep reads what was missed."""
    settings.GAME_SWEEP_INTERVAL_SECONDS = 0.05
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await move_from_another_process(game_id, seat=1, column=4)
    for socket in (red, yellow, watcher):
        event = await socket.receive_type("move", timeout=5)
        assert (event["seq"], event["seat"], event["column"], event["move_id"]) == (3, 1, 4, "elsewhere")
    # This process decides against the healed game: Yellow's reply is the next move.
    await yellow.send(type="move", column=4, move_id="yellow-1")
    assert (await yellow.receive_type("ack"))["seq"] == 4
    for socket in (red, watcher):
        assert (await socket.receive_type("move"))["move_id"] == "yellow-1"
    assert await red.nothing_more() and await watcher.nothing_more()  # nothing arrived twice


# ----- Rematch ----------------------------------------------------------------------


async def test_a_rematch_needs_both_and_moves_everyone_to_a_game_with_colours_swapped(sockets):
    game_id, red, yellow, watcher, token1, token2 = await seated_game(sockets)
    await red.send(type="rematch")
    assert (await red.receive_type("error"))["code"] == "not_over"
    await play_moves([0, 1, 0, 1, 0, 1, 0], red, yellow, watcher)
    await red.send(type="rematch")
    offered = await watcher.receive_type("rematch_offered")
    assert offered["seat"] == 1
    await red.receive_type("rematch_offered")
    await red.send(type="rematch")
    assert (await red.receive_type("error"))["code"] == "already_offered"
    await watcher.send(type="rematch")
    assert (await watcher.receive_type("error"))["code"] == "spectator"
    assert (await yellow.receive_type("rematch_offered"))["seat"] == 1
    await yellow.send(type="rematch")
    agreed = [await s.receive_type("rematch") for s in (red, yellow, watcher)]
    new_id = agreed[0]["game_id"]
    assert agreed[0] == agreed[1] == agreed[2] and new_id != game_id

    # Yellow now plays Red's part: same token, seat 1, first to move.
    new_yellow = await sockets(new_id)
    welcome = await new_yellow.hello(token=token2)
    assert (welcome["seat"], welcome["game"]["status"], welcome["game"]["turn"]) == (1, "playing", 1)
    new_red = await sockets(new_id)
    assert (await new_red.hello(token=token1))["seat"] == 2
    await new_yellow.send(type="move", column=3)
    assert (await new_red.receive_type("move"))["seat"] == 1
    new_game = await Game.objects.aget(pk=new_id)
    assert new_game.rematch_of_id == game_id
    await yellow.send(type="rematch")
    assert (await yellow.receive_type("error"))["code"] == "rematch_exists"


async def test_no_rematch_for_a_game_nobody_joined(sockets):
    game_id, token = await registry.create_game()
    creator = await sockets(game_id)
    await creator.hello(token=token)
    await creator.send(type="abort")
    await creator.receive_type("aborted")
    await creator.send(type="rematch")
    assert (await creator.receive_type("error"))["code"] == "no_opponent"


# ----- Hardening --------------------------------------------------------------------


async def test_an_oversized_message_is_refused(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await red.send(type="move", column=0, padding="x" * 5000)
    assert (await red.receive_type("error"))["code"] == "too_large"
    await red.send_raw(data=b"\x00" * 5000)
    assert (await red.receive_type("error"))["code"] == "too_large"
    assert await yellow.nothing_more()
    await play_moves([0], red, yellow, watcher)


async def test_a_flood_is_rate_limited_then_closed(sockets, settings):
    settings.GAME_RATE_PER_SECOND = 1
    settings.GAME_RATE_BURST = 3
    game_id, token = await registry.create_game()
    flooder = await sockets(game_id)
    for _ in range(3):
        await flooder.send(type="ping")
        assert (await flooder.receive())["type"] == "pong"
    await flooder.send(type="ping")
    assert (await flooder.receive())["code"] == "rate_limited"
    for _ in range(60):
        await flooder.send(type="ping")
    output = []
    while (message := await flooder.communicator.receive_output(timeout=2))["type"] != "websocket.close":
        output.append(message)
    assert message["code"] == 4429
    assert len(output) <= 51


async def test_an_idle_socket_is_closed(settings):
    settings.GAME_IDLE_TIMEOUT_SECONDS = 0.1
    settings.GAME_SWEEP_INTERVAL_SECONDS = 0.05
    game_id, token = await registry.create_game()
    idle = await Socket(game_id).open()
    closed = await idle.communicator.receive_output(timeout=5)
    assert closed["type"] == "websocket.close" and closed["code"] == 4408
    await idle.close()
    assert registry.connection_count(game_id) == 0


async def test_a_creator_who_left_before_the_join_is_away_once_play_starts(sockets, settings):
    settings.GAME_CLAIM_AFTER_SECONDS = 0
    game_id, token1 = await registry.create_game()
    red = await sockets(game_id)
    await red.hello(token=token1)
    watcher = await sockets(game_id)  # keeps the game live in this process
    await watcher.hello()
    await red.close()
    yellow = await sockets(game_id)
    await yellow.hello()
    await yellow.send(type="join")
    await yellow.receive_type("seated")
    await yellow.receive_type("joined")
    presence = await presence_when(yellow, lambda p: p["players"]["2"])
    assert presence["away"]["1"] == {"claim_in": 0, "forfeit_in": presence["away"]["1"]["forfeit_in"]}
    await yellow.send(type="claim_win")
    assert (await yellow.receive_type("abandoned"))["winner"] == 2
