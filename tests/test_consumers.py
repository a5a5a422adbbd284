"""Playing over WebSockets through the real ASGI application and database."""

import asyncio

import pytest
from autobahn.exception import Disconnected
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer

from games.live import registry
from games.models import Game, GameEvent
from games.web.consumers import GameConsumer
from games.web.sockets import CLOSE_SERVICE_RESTART, dispatch_in_turn
from tests.conftest import Socket
from tests.test_rules import DRAW_SEQUENCE

pytestmark = pytest.mark.django_db(transaction=True)


async def seated_game(sockets):
    """A game with both players and a spectator connected and welcomed."""
    game_id, token1 = await registry.create_game()
    red = await sockets(game_id)
    welcome = await red.hello(token=token1)
    assert (welcome["seat"], welcome["role"], welcome["game"]["status"]) == (1, "player", "waiting")
    yellow = await sockets(game_id)
    assert (await yellow.hello())["role"] == "spectator"
    await yellow.send(type="join")
    seated = await yellow.receive_type("seated")
    assert seated["seat"] == 2 and len(seated["token"]) >= 22
    watcher = await sockets(game_id)
    await watcher.hello()
    for socket in (red, yellow):
        joined = await socket.receive_type("joined")
        assert (joined["seq"], joined["status"], joined["turn"]) == (2, "playing", 1)
    return game_id, red, yellow, watcher, token1, seated["token"]


async def play_moves(columns, red, yellow, watcher):
    """Each player moves in turn; everyone sees every move once, in order."""
    events = []
    for i, column in enumerate(columns):
        mover = red if i % 2 == 0 else yellow
        await mover.send(type="move", column=column)
        ack = await mover.receive_type("ack")
        assert ack["duplicate"] is False and ack["move_id"] is None
        seen = [await socket.receive_type("move") for socket in (red, yellow, watcher)]
        assert seen[0]["seq"] == ack["seq"]
        assert seen[0] == seen[1] == seen[2]
        assert seen[0]["column"] == column and seen[0]["seat"] == (1 if i % 2 == 0 else 2)
        events.append(seen[0])
    assert [e["seq"] for e in events] == list(range(events[0]["seq"], events[0]["seq"] + len(events)))
    return events


@database_sync_to_async
def stored(game_id):
    game = Game.objects.get(pk=game_id)
    return game, list(GameEvent.objects.filter(game=game).values_list("seq", "kind", "seat"))


async def test_two_players_and_a_spectator_play_to_a_win(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    events = await play_moves([3, 0, 3, 0, 3, 0, 3], red, yellow, watcher)
    last = events[-1]
    assert (last["status"], last["winner"], last["turn"]) == ("finished", 1, None)
    assert last["line"] == [[3, 0], [3, 1], [3, 2], [3, 3]]
    game, log = await stored(game_id)
    assert (game.status, game.result, game.winner, game.seq) == ("finished", "win", 1, 9)
    assert [kind for _, kind, _ in log] == ["created", "joined"] + ["move"] * 7
    for socket in (red, yellow, watcher):
        assert await socket.nothing_more()


async def test_two_players_and_a_spectator_play_to_a_draw(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    events = await play_moves(DRAW_SEQUENCE, red, yellow, watcher)
    assert (events[-1]["status"], events[-1]["winner"], events[-1]["line"]) == ("finished", None, [])
    assert all(e["status"] == "playing" for e in events[:-1])
    game, _ = await stored(game_id)
    assert (game.status, game.result, game.winner, game.seq) == ("finished", "draw", None, 44)


async def test_the_movers_ack_comes_before_its_own_move_event(sockets):
    """The rule stated in GameConsumer.on_move: the handler of the move sends the ack, and the
    broadcast reaches the mover's socket as a channel-layer message, which is dispatched only
    after that handler has returned."""
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    for i, column in enumerate([3, 4, 3, 4]):
        mover, others = (red, (yellow, watcher)) if i % 2 == 0 else (yellow, (red, watcher))
        await mover.send(type="move", column=column, move_id=f"order-{i}")
        seen = []
        while not seen or seen[-1]["type"] != "move":
            message = await mover.receive()
            if message["type"] != "presence":
                seen.append(message)
        assert [m["type"] for m in seen] == ["ack", "move"]
        assert seen[0]["seq"] == seen[1]["seq"] and seen[1]["move_id"] == f"order-{i}"
        for socket in others:
            assert (await socket.receive_type("move"))["seq"] == seen[1]["seq"]


async def test_a_late_spectator_gets_the_whole_history_then_live_moves(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    played = await play_moves([2, 4, 2], red, yellow, watcher)
    late = await sockets(game_id)
    welcome = await late.hello()
    assert welcome["seq"] == 5 and welcome["role"] == "spectator"
    assert [e["type"] for e in welcome["events"]] == ["created", "joined", "move", "move", "move"]
    assert welcome["events"][2:] == played
    board = welcome["game"]["board"]
    assert (board[0][2], board[1][2], board[0][4]) == (1, 1, 2)
    await yellow.send(type="move", column=4)
    live = await late.receive_type("move")
    assert (live["seq"], live["column"], live["row"]) == (6, 4, 1)


async def test_hello_with_last_seq_sends_only_what_was_missed(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await play_moves([1, 1, 1], red, yellow, watcher)
    again = await sockets(game_id)
    welcome = await again.hello(last_seq=3)
    assert [e["seq"] for e in welcome["events"]] == [4, 5]


async def test_reconnecting_with_the_token_keeps_the_seat(sockets):
    game_id, red, yellow, watcher, token1, _ = await seated_game(sockets)
    await play_moves([0, 1], red, yellow, watcher)
    await red.close()
    red_again = await sockets(game_id)
    welcome = await red_again.hello(token=token1)
    assert (welcome["seat"], welcome["game"]["turn"], welcome["seq"]) == (1, 1, 4)
    await red_again.send(type="move", column=0)
    assert (await yellow.receive_type("move"))["seat"] == 1


async def test_players_see_each_others_presence_and_the_spectator_count(sockets):
    game_id, token1 = await registry.create_game()
    red = await sockets(game_id)
    welcome = await red.hello(token=token1)
    assert welcome["presence"]["players"] == {"1": True, "2": False}
    assert welcome["presence"]["spectators"] == 0
    watcher = await sockets(game_id)
    await watcher.hello()
    presence = await red.receive_type("presence")
    assert presence["spectators"] == 1
    await watcher.close()
    presence = await red.receive_type("presence")
    assert presence["spectators"] == 0


async def test_an_unknown_game_is_refused_with_close_code_4404():
    socket = await Socket("ZZZZZZZZ").open()
    closed = await socket.communicator.receive_output(timeout=2)
    assert closed == {"type": "websocket.close", "code": 4404, "reason": "unknown game"}
    assert registry.connection_count("ZZZZZZZZ") == 0


async def test_the_last_socket_to_leave_frees_the_live_game(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    assert registry.connection_count(game_id) == 3
    for socket in (red, yellow, watcher):
        await socket.close()
    assert registry.connection_count(game_id) == 0
    assert game_id not in [live.id for live in registry.live_games()]


async def test_a_frame_for_a_socket_its_client_just_closed_is_dropped_quietly():
    """Daphne raises when asked to send on a socket that closed a moment ago; that is not an error."""
    consumer = GameConsumer()

    async def closed_socket(message):
        raise Disconnected("Attempt to send on a closed protocol")

    consumer.base_send = closed_socket  # as GameConsumer.__call__ passes daphne's send
    await consumer.send_json({"type": "pong", "seq": 1})


async def test_dispatch_in_turn_handles_one_message_at_a_time_from_every_receiver():
    client, layer = asyncio.Queue(), asyncio.Queue()
    seen, busy = [], []

    async def dispatch(message):
        assert not busy, "two dispatches at once"
        busy.append(message)
        await asyncio.sleep(0.01)
        busy.pop()
        seen.append(message)
        if message == "bye":
            raise StopConsumer

    for message in ("c1", "c2"):
        client.put_nowait(message)
    for message in ("l1", "l2"):
        layer.put_nowait(message)
    client.put_nowait("bye")
    with pytest.raises(StopConsumer):
        await dispatch_in_turn((client.get, layer.get), dispatch)
    assert [m for m in seen if m.startswith("c")] == ["c1", "c2"]
    assert [m for m in seen if m.startswith("l")] == ["l1", "l2"]


@pytest.mark.parametrize("failing_first", [True, False])
async def test_dispatch_in_turn_raises_what_a_receiver_raises_and_stops_the_others(failing_first):
    stopped = []

    async def failing():
        await asyncio.sleep(0.01)
        raise OSError("layer gone")

    async def waiting():
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopped.append(True)
            raise

    async def dispatch(message):
        raise AssertionError("nothing to dispatch")

    receivers = (failing, waiting) if failing_first else (waiting, failing)
    with pytest.raises(OSError, match="layer gone"):
        await dispatch_in_turn(receivers, dispatch)
    assert stopped == [True]


async def test_a_dispatch_under_way_finishes_before_a_failing_receiver_ends_it_all():
    client, finished = asyncio.Queue(), []

    async def failing():
        await asyncio.sleep(0.01)  # fails while the client's message is being dispatched
        raise OSError("layer gone")

    async def dispatch(message):
        await asyncio.sleep(0.05)
        finished.append(message)

    client.put_nowait("move")
    with pytest.raises(OSError, match="layer gone"):
        await dispatch_in_turn((client.get, failing), dispatch)
    assert finished == ["move"]


async def test_dispatch_in_turn_still_ends_when_its_task_is_cancelled():
    async def waiting():
        await asyncio.Event().wait()

    async def dispatch(message):
        raise AssertionError("nothing to dispatch")

    task = asyncio.ensure_future(dispatch_in_turn((waiting, waiting), dispatch))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(asyncio.all_tasks()) == 1  # only this test's: no reader left behind


async def test_a_channel_layer_failing_under_a_socket_closes_it_for_a_reconnect(sockets, monkeypatch):
    game_id, token = await registry.create_game()
    red = await sockets(game_id)
    await red.hello(token=token)
    layer = get_channel_layer()

    def gone():
        raise OSError("the layer went away")

    await layer.group_send(registry.group_name(game_id), {"type": "game.nudge"})
    monkeypatch.setattr(layer, "_clean_expired", gone)  # the socket's next receive, after the nudge, fails
    closed = await red.communicator.receive_output(timeout=2)
    assert closed == {"type": "websocket.close", "code": CLOSE_SERVICE_RESTART, "reason": "service restart"}
    assert registry.connection_count(game_id) == 0  # detached, as on any disconnect


async def test_an_unexpected_error_ends_the_socket_and_it_still_leaves_its_game(sockets, settings, monkeypatch, caplog):
    """Whatever ends a consumer, it detaches: the registry stops counting it and its departure is
    recorded, so the opponent can claim the win."""
    settings.GAME_CLAIM_AFTER_SECONDS = 0
    game_id, token1 = await registry.create_game()
    red = await sockets(game_id)
    await red.hello(token=token1)
    yellow = await Socket(game_id).open()  # not the fixture's, whose closing would raise the error again
    await yellow.hello()
    await yellow.send(type="join")
    await yellow.receive_type("seated")
    await red.receive_type("joined")

    async def broken(game_id, seat):
        raise RuntimeError("a bug")

    monkeypatch.setattr(registry, "resign", broken)
    await yellow.send(type="resign")
    while (closed := await yellow.communicator.receive_output(timeout=2))["type"] == "websocket.send":
        pass  # frames sent before the error
    assert closed == {"type": "websocket.close", "code": 1011, "reason": "internal error"}
    with pytest.raises(RuntimeError, match="a bug"):  # then raised on to the server, which logs it
        await yellow.communicator.receive_output(timeout=2)
    assert registry.connection_count(game_id) == 1
    assert "ended by an unexpected error" in caplog.text
    while (await red.receive_type("presence"))["players"]["2"]:
        pass
    await red.send(type="claim_win")
    assert (await red.receive_type("abandoned"))["winner"] == 1
