"""The in-memory channel layer the server runs on by default: same behaviour, cheaper sweeps."""

import asyncio
from datetime import UTC, datetime

import pytest
from channels.exceptions import ChannelFull

from games.layers.memory import InMemoryLayer


async def test_a_group_message_reaches_every_member_once_and_leaves_other_groups_alone():
    layer = InMemoryLayer()
    members = [await layer.new_channel() for _ in range(3)]
    outsider = await layer.new_channel()
    for channel in members:
        await layer.group_add("game-a", channel)
    await layer.group_add("game-b", outsider)
    await layer.group_send("game-a", {"type": "game.event", "raw": [3, "move", 1, {"column": 2}]})
    for channel in members:
        assert await layer.receive(channel) == {"type": "game.event", "raw": [3, "move", 1, {"column": 2}]}
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await layer.receive(outsider)


async def test_each_member_gets_its_own_copy():
    layer = InMemoryLayer()
    first, second = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("game-a", first)
    await layer.group_add("game-a", second)
    await layer.group_send("game-a", {"type": "game.event", "event": {"seq": 1}})
    (await layer.receive(first))["event"]["seq"] = 99
    assert (await layer.receive(second))["event"] == {"seq": 1}


async def test_expired_messages_are_still_swept_and_their_channel_leaves_its_groups():
    layer = InMemoryLayer(expiry=0)
    layer.SWEEP_SECONDS = 0  # a sweep at every call, instead of at most once a second
    gone = await layer.new_channel()
    await layer.group_add("game-a", gone)
    await layer.group_send("game-a", {"type": "game.event"})  # nobody reads it; it expires at once
    assert gone in layer.groups["game-a"]
    await layer.group_send("game-a", {"type": "game.event"})
    assert gone not in layer.groups.get("game-a", {})


async def test_a_full_channel_refuses_and_an_empty_one_is_forgotten():
    layer = InMemoryLayer(capacity=2)
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "a"})
    await layer.send(channel, {"type": "b"})
    with pytest.raises(ChannelFull):
        await layer.send(channel, {"type": "c"})
    assert [(await layer.receive(channel))["type"] for _ in range(2)] == ["a", "b"]
    assert channel not in layer.channels  # nothing kept for a channel with no messages and nobody waiting


async def test_waiting_receivers_are_served_in_turn_and_one_cancelled_loses_nothing():
    layer = InMemoryLayer()
    channel = await layer.new_channel()
    first, second, third = (asyncio.ensure_future(layer.receive(channel)) for _ in range(3))
    await asyncio.sleep(0)
    first.cancel()
    await layer.send(channel, {"type": "one"})
    await layer.send(channel, {"type": "two"})
    assert (await second)["type"] == "one"
    assert (await third)["type"] == "two"
    assert first.cancelled()
    assert channel not in layer.channels


async def test_a_receiver_woken_then_cancelled_passes_its_message_on():
    layer = InMemoryLayer()
    channel = await layer.new_channel()
    woken, next_in_line = asyncio.ensure_future(layer.receive(channel)), asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)
    await layer.send(channel, {"type": "only"})  # wakes the first receiver...
    woken.cancel()  # ...which is cancelled before it runs
    assert (await next_in_line)["type"] == "only"


async def test_a_receive_cancelled_while_idle_leaves_nothing_behind():
    layer = InMemoryLayer()
    channel = await layer.new_channel()
    waiting = asyncio.ensure_future(layer.receive(channel))  # a socket's consumer, waiting
    await asyncio.sleep(0)
    waiting.cancel()  # the socket closes
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert layer.channels == {}


async def test_capacity_zero_means_no_limit():
    layer = InMemoryLayer(capacity=0)
    channel = await layer.new_channel()
    for n in range(5):
        await layer.send(channel, {"type": "m", "n": n})
    assert [(await layer.receive(channel))["n"] for _ in range(5)] == list(range(5))


async def test_each_member_gets_its_own_copy_packed_as_redis_would_carry_it():
    layer = InMemoryLayer()
    first, second = await layer.new_channel(), await layer.new_channel()
    for channel in (first, second):
        await layer.group_add("game-a", channel)
    await layer.group_send("game-a", {"type": "game.event", "raw": (3, "move", 1, {"column": 2})})
    one, other = await layer.receive(first), await layer.receive(second)
    assert one == other == {"type": "game.event", "raw": [3, "move", 1, {"column": 2}]}  # a tuple arrives as a list
    one["raw"].append("changed")
    assert other["raw"] == [3, "move", 1, {"column": 2}]


async def test_a_message_redis_could_not_carry_is_refused_here_too():
    layer = InMemoryLayer()
    channel = await layer.new_channel()
    with pytest.raises(TypeError):
        await layer.send(channel, {"type": "game.event", "at": datetime.now(UTC)})
    await layer.group_add("game-a", channel)
    with pytest.raises(TypeError):
        await layer.group_send("game-a", {"type": "game.event", "seats": {1, 2}})
