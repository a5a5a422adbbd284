"""Hostile input and connection churn: nothing crashes, nothing leaks, memory equals the log."""

import asyncio
import json
import math

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from games.core.match import replay_with_history
from games.live import presence, registry, sweeper
from games.models import Connection
from games.storage import store
from tests.conftest import Socket
from tests.memory import forget_the_process
from tests.test_consumers import seated_game

pytestmark = pytest.mark.django_db(transaction=True)

KNOWN_TYPES = ["hello", "join", "move", "resign", "abort", "claim_win", "rematch", "ping"]
DIRECT_REPLIES = {"error", "ack", "pong", "welcome", "seated"}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8,
)
protocol_like = st.fixed_dictionaries(
    {"type": st.sampled_from([*KNOWN_TYPES, "game.event", "socket.idle", "", "MOVE"]) | json_values},
    optional={
        "column": st.integers(-3, 10) | json_values,
        "token": st.text(max_size=50) | json_values,
        "last_seq": st.integers(-2, 60) | json_values,
        "move_id": st.text(max_size=70) | json_values,
    },
)
frames = st.one_of(
    st.tuples(st.just("json"), protocol_like),
    st.tuples(st.just("json"), json_values),
    st.tuples(st.just("text"), st.text(max_size=200)),
    st.tuples(st.just("bytes"), st.binary(max_size=64)),
    st.tuples(st.just("big"), st.integers(4097, 20000)),
)
senders = st.sampled_from(["red", "yellow", "watcher"])


def strict_json(text: str):
    """JSON as RFC 8259 has it, which is what the server parses: ``json.loads`` without its extras
    (NaN and Infinity, numbers too big for a double, lone surrogates from escapes)."""

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    def finite(number: str) -> float:
        if math.isinf(value := float(number)):
            raise ValueError(f"too big for a double: {number}")
        return value

    def number(digits: str) -> int | float:
        whole = int(digits)
        return whole if -(2**63) <= whole < 2**64 else finite(digits)

    def check(value):
        if isinstance(value, dict):
            for key, item in value.items():
                check(key), check(item)
        elif isinstance(value, list):
            for item in value:
                check(item)
        elif isinstance(value, str) and any(0xD800 <= ord(char) <= 0xDFFF for char in value):
            raise ValueError("a lone surrogate")
        return value

    return check(json.loads(text, parse_constant=refuse, parse_float=finite, parse_int=number))


def expected_error(kind, payload):
    """The error a structurally bad frame must get, or None when the reply depends on the game."""
    if kind in ("bytes",):
        return "bad_json"
    if kind == "big":
        return "too_large"
    if kind == "text":
        try:
            payload = strict_json(payload)
        except ValueError:
            return "bad_json"
    if not isinstance(payload, dict):
        return "not_object"
    if payload.get("type") not in KNOWN_TYPES:
        return "unknown_type"
    return None


def parsed(kind, payload):
    if kind == "json":
        return payload
    if kind == "text":
        try:
            return strict_json(payload)
        except ValueError:
            return None
    return None


sent_total = 0


async def fuzz_one_table(script):
    global sent_total
    forget_the_process()
    channel_layers.backends.clear()
    opened = []

    async def open_socket(game_id):
        socket = await Socket(game_id).open()
        opened.append(socket)
        return socket

    try:
        game_id, red, yellow, watcher, *_ = await seated_game(open_socket)
        sockets = {"red": red, "yellow": yellow, "watcher": watcher}
        last_seq = {name: 2 for name in sockets}
        for who, (kind, payload) in script:
            socket = sockets[who]
            if kind == "json":
                await socket.send_raw(text=json.dumps(payload))
            elif kind == "text":
                await socket.send_raw(text=payload or " ")
            elif kind == "bytes":
                await socket.send_raw(data=payload or b"\x00")
            else:  # "big": an oversized frame
                await socket.send_raw(text="x" * payload)
            sent_total += 1
            await socket.send(type="ping")  # the socket must still answer
            message = parsed(kind, payload)
            pongs = 2 if isinstance(message, dict) and message.get("type") == "ping" else 1
            replies = []
            while pongs:
                message = await socket.receive(timeout=5)
                pongs -= message["type"] == "pong"
                replies.append(message)
            replies = replies[:-1]  # our own pong
            direct = [m for m in replies if m["type"] in DIRECT_REPLIES - {"pong"}]
            assert len(direct) <= 1, direct
            if (code := expected_error(kind, payload)) is not None:
                assert [m.get("code") for m in direct] == [code], (kind, payload, replies)
            for message in replies:
                if message["type"] == "welcome":
                    last_seq[who] = message["seq"]
                elif message["type"] not in DIRECT_REPLIES and message["type"] != "presence":
                    # Every event arrives once, in order, with no gap.
                    assert message["seq"] == last_seq[who] + 1, (who, message, last_seq)
                    last_seq[who] = message["seq"]
        live = await registry.get(game_id)
        stored = await _stored(game_id)
        match, history = replay_with_history(stored.kind, stored.events)
        assert live.match == match and live.history == history
    finally:
        for socket in opened:
            await socket.close()
        sweeper.stop()


async def _stored(game_id):
    from channels.db import database_sync_to_async

    return await database_sync_to_async(store.load_game)(game_id, timezone.now())


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(senders, frames), min_size=40, max_size=40))
def fuzz_tables(script):
    async_to_sync(fuzz_one_table)(script)


def test_fuzzed_messages_never_crash_or_corrupt_a_game():
    """25 fresh tables x 40 hostile frames each, from both players and a spectator."""
    global sent_total
    sent_total = 0
    fuzz_tables()
    assert sent_total >= 1000


async def test_connection_churn_leaks_no_registry_entries_groups_or_tasks():
    games = [(await registry.create_game())[0] for _ in range(10)]
    baseline = len(asyncio.all_tasks())
    for _ in range(10):  # 10 rounds x 50 sockets = 500 connects and disconnects, 50 at a time
        batch = [Socket(games[i % len(games)]) for i in range(50)]
        await asyncio.gather(*(socket.open() for socket in batch))
        await asyncio.gather(*(socket.hello() for socket in batch[::2]))  # half of them say hello
        assert sum(registry.connection_count(game_id) for game_id in games) == 50
        await asyncio.gather(*(socket.close() for socket in batch))
    assert registry.live_games() == []
    assert get_channel_layer().groups == {}
    assert get_channel_layer().channels == {}  # no inbox kept for a socket that has gone
    assert not await Connection.objects.filter(game_id__in=games).aexists()  # nobody counts as present
    await presence.sent()
    sweeper.stop()
    await asyncio.sleep(0)  # let the cancelled sweeper finish
    assert len(asyncio.all_tasks()) <= baseline
