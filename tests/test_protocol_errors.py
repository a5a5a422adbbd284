"""Every refusal: a machine-readable error to the sender only, the socket still open, nothing changed."""

import pytest
from channels.db import database_sync_to_async

from games.live import registry
from games.models import Game, GameEvent
from tests.test_consumers import play_moves, seated_game

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def log_length(game_id):
    return Game.objects.get(pk=game_id).seq, GameEvent.objects.filter(game_id=game_id).count()


async def assert_refused(socket, others, game_id, code, *, raw=None, data=None, **message):
    """Send one bad message; only the sender hears about it, and nothing changes."""
    before = await log_length(game_id)
    if raw is not None or data is not None:
        await socket.send_raw(text=raw, data=data)
    else:
        await socket.send(**message)
    error = await socket.receive_type("error")
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert error["seq"] == before[0]
    for other in others:
        assert await other.nothing_more()
    assert await log_length(game_id) == before
    await socket.send(type="ping")  # the connection is still usable
    assert (await socket.receive_type("pong"))["seq"] == before[0]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"raw": "{not json"}, "bad_json"),
        ({"raw": "   "}, "bad_json"),
        ({"data": b"\x00\x01binary"}, "bad_json"),
        ({"raw": "[1, 2, 3]"}, "not_object"),
        ({"raw": '"move"'}, "not_object"),
        ({"raw": "42"}, "not_object"),
        ({"raw": "null"}, "not_object"),
        ({"type": "teleport"}, "unknown_type"),
        ({"type": "game.event"}, "unknown_type"),  # a client can never name a layer handler
        ({"type": 5}, "unknown_type"),
        ({"raw": '{"column": 3}'}, "unknown_type"),
        ({"type": "move"}, "bad_field"),
        ({"type": "move", "column": 7}, "bad_column"),
        ({"type": "move", "column": -1}, "bad_column"),
        ({"type": "move", "column": 99999999999999999999999}, "bad_column"),
        ({"type": "move", "column": "3"}, "bad_column"),
        ({"type": "move", "column": 3.0}, "bad_column"),
        ({"type": "move", "column": True}, "bad_column"),
        ({"type": "move", "column": None}, "bad_field"),
        ({"type": "hello", "token": 12345}, "bad_field"),
        ({"type": "hello", "last_seq": -1}, "bad_field"),
        ({"type": "hello", "last_seq": "3"}, "bad_field"),
        ({"type": "hello", "token": "not-the-token"}, "bad_token"),
        ({"type": "join"}, "already_seated"),
    ],
)
async def test_malformed_messages_from_a_player_are_refused(sockets, kwargs, code):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await assert_refused(red, [yellow, watcher], game_id, code, **kwargs)
    # ... and the seat still works afterwards.
    await play_moves([3], red, yellow, watcher)


async def test_moving_out_of_turn_is_refused(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await assert_refused(yellow, [red, watcher], game_id, "not_your_turn", type="move", column=0)


async def test_a_full_column_is_refused(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await play_moves([5] * 6, red, yellow, watcher)
    await assert_refused(red, [yellow, watcher], game_id, "column_full", type="move", column=5)


async def test_moving_before_the_game_starts_is_refused(sockets):
    game_id, token1 = await registry.create_game()
    red = await sockets(game_id)
    await red.hello(token=token1)
    await assert_refused(red, [], game_id, "not_started", type="move", column=3)


async def test_moving_after_the_game_is_over_is_refused(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await play_moves([0, 1, 0, 1, 0, 1, 0], red, yellow, watcher)
    await assert_refused(yellow, [red, watcher], game_id, "game_over", type="move", column=1)


async def test_a_spectator_can_never_play(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await assert_refused(watcher, [red, yellow], game_id, "spectator", type="move", column=3)
    # Not even before saying hello, and not on the seat whose turn it is.
    stranger = await sockets(game_id)
    await assert_refused(stranger, [red, yellow, watcher], game_id, "spectator", type="move", column=3)


async def test_a_third_person_cannot_take_a_seat_in_a_full_game(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await assert_refused(watcher, [red, yellow], game_id, "seat_taken", type="join")
    with pytest.raises(registry.IllegalMove):
        await registry.join(game_id)


async def test_a_bad_token_leaves_the_socket_a_spectator(sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await assert_refused(watcher, [red, yellow], game_id, "bad_token", type="hello", token="x" * 43)
    await assert_refused(watcher, [red, yellow], game_id, "spectator", type="move", column=0)
