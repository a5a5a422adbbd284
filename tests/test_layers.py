"""The in-memory channel layer the server runs on by default: same behaviour, cheaper sweeps."""

import asyncio

import pytest

from games.layers import InMemoryLayer


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
    gone = await layer.new_channel()
    await layer.group_add("game-a", gone)
    await layer.group_send("game-a", {"type": "game.event"})  # nobody reads it; it expires at once
    assert gone in layer.groups["game-a"]
    layer._next_sweep = 0.0  # as if a sweep were due (they run at most once a second)
    await layer.group_send("game-a", {"type": "game.event"})
    assert gone not in layer.groups.get("game-a", {})
