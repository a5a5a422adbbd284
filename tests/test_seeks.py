"""Play now: seeks as rows, paired by the database, told over their sockets; through the real ASGI
application and database."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from config.asgi import application
from games.live import seeking
from games.models import Game, Seek
from games.storage import pool
from tests.conftest import ORIGIN

pytestmark = pytest.mark.django_db(transaction=True)


class Seeker:
    """One seeker: a seek made as a bot makes it, and a socket greeted with the seek's token."""

    def __init__(self, owner: str, time_control: str = "3+2"):
        self.owner, self.time_control = owner, time_control
        self.communicator = None

    async def seek(self):
        self.ticket, self.token = await seeking.create(self.owner, "127.0.0.1", self.time_control, replace=False)
        return self

    async def connect(self, token=None):
        self.communicator = WebsocketCommunicator(application, f"/ws/seeks/{self.ticket.id}/", headers=[ORIGIN])
        connected, _ = await self.communicator.connect()
        assert connected
        await self.send(type="hello", token=token or self.token)
        return await self.receive()

    async def send(self, **message):
        await self.communicator.send_json_to(message)

    async def receive(self, timeout=3):
        return await self.communicator.receive_json_from(timeout=timeout)

    async def nothing_more(self):
        return await self.communicator.receive_nothing(timeout=0.1)

    async def close(self):
        if self.communicator is not None:
            await self.communicator.disconnect()
            self.communicator = None


@pytest.fixture
async def seekers():
    made = []

    async def make(owner, time_control="3+2", connect=True):
        seeker = await Seeker(owner, time_control).seek()
        made.append(seeker)
        if connect:
            seeker.greeting = await seeker.connect()
        return seeker

    yield make
    for seeker in made:
        await seeker.close()


def row(seek_id):
    return Seek.objects.get(pk=seek_id)


async def game_socket(game_id, token):
    socket = WebsocketCommunicator(application, f"/ws/games/{game_id}/", headers=[ORIGIN])
    assert (await socket.connect())[0]
    await socket.send_json_to({"type": "hello", "token": token})
    return socket, await socket.receive_json_from(timeout=3)


async def test_two_seekers_are_put_into_one_game_and_their_seek_tokens_take_its_seats(seekers):
    first = await seekers("bot:a")
    assert first.greeting["type"] == "seeking"
    assert first.greeting["seek"]["time_control"] == "3+2" and first.greeting["seek"]["status"] == "waiting"
    second = await seekers("bot:b")

    told = [second.greeting, await first.receive()]
    assert [message["type"] for message in told] == ["paired", "paired"]
    game_id = told[0]["game_id"]
    assert told[1]["game_id"] == game_id and {told[0]["seat"], told[1]["seat"]} == {1, 2}
    assert told[0]["url"] == f"/g/{game_id}/" and told[0]["websocket"] == f"/ws/games/{game_id}/"
    game = await database_sync_to_async(Game.objects.get)(pk=game_id)
    assert (game.status, game.time_control, game.seq) == ("playing", "3+2", 2)
    assert game.started_at is not None

    # The seek's own token is the seat token: each player is seated in the game with it.
    for seeker, message in ((second, told[0]), (first, told[1])):
        assert message["token"] == seeker.token
        assert await seeker.nothing_more()  # its work is done: the client closes it
        socket, welcome = await game_socket(game_id, seeker.token)
        assert (welcome["type"], welcome["seat"], welcome["role"]) == ("welcome", message["seat"], "player")
        assert welcome["game"]["clock"]["time_control"] == "3+2"
        await socket.disconnect()
    rows = [await database_sync_to_async(row)(s.ticket.id) for s in (first, second)]
    assert {(r.status, r.game_id) for r in rows} == {("paired", game_id)}


async def test_of_three_seekers_two_are_paired_and_the_third_keeps_waiting(seekers):
    first, second = await seekers("bot:a"), await seekers("bot:b")
    assert second.greeting["type"] == "paired" and (await first.receive())["type"] == "paired"
    third = await seekers("bot:c")
    assert third.greeting["type"] == "seeking"
    assert await third.nothing_more()
    assert (await database_sync_to_async(row)(third.ticket.id)).status == "waiting"
    fourth = await seekers("bot:d")
    assert fourth.greeting["type"] == "paired" and (await third.receive())["game_id"] == fourth.greeting["game_id"]


async def test_different_time_controls_never_pair(seekers):
    blitz, rapid, untimed = await seekers("bot:a", "3+2"), await seekers("bot:b", "10+5"), await seekers("bot:c", "")
    assert [s.greeting["type"] for s in (blitz, rapid, untimed)] == ["seeking"] * 3
    assert untimed.greeting["seek"]["time_control"] == ""
    for seeker in (blitz, rapid, untimed):
        assert await seeker.nothing_more()
    other_untimed = await seekers("bot:d", "")
    assert other_untimed.greeting["type"] == "paired"
    assert (await untimed.receive())["type"] == "paired"
    game = await database_sync_to_async(Game.objects.get)(pk=other_untimed.greeting["game_id"])
    assert game.time_control == "" and game.clock_deadline is None


async def test_a_cancelled_seek_is_never_paired(seekers):
    first = await seekers("bot:a")
    await first.send(type="cancel")
    assert await first.receive() == {"type": "ended", "seek_id": first.ticket.id, "status": "cancelled"}
    second = await seekers("bot:b")
    assert second.greeting["type"] == "seeking"
    assert (await database_sync_to_async(row)(first.ticket.id)).status == "cancelled"


async def test_a_seeker_who_drops_keeps_its_place_and_is_paired_on_coming_back(seekers):
    first = await seekers("bot:a")
    await first.close()  # a reload, or Wi-Fi gone for a moment
    assert (await database_sync_to_async(row)(first.ticket.id)).away_since is not None

    second = await seekers("bot:b")
    assert second.greeting["type"] == "seeking"  # nobody is paired with a seeker who is not there
    third = await seekers("bot:c", "5+0")
    assert third.greeting["type"] == "seeking"

    back = await first.connect()  # the same ticket, the same token
    assert back["type"] == "paired"
    assert (await second.receive())["game_id"] == back["game_id"]


async def test_when_several_become_pairable_at_once_the_longest_waiting_are_paired_first(seekers):
    """Three seekers whose process died (stale heartbeats) reconnect to this one: its sweep makes
    them pairable together, and the two who have waited longest get the game."""
    stale, waiting = timezone.now() - timedelta(seconds=60), []
    for name in "abc":  # each one's process dies before the next arrives
        waiting.append(await seekers(f"bot:{name}", connect=False))
        await database_sync_to_async(Seek.objects.filter(pk=waiting[-1].ticket.id).update)(seen_at=stale)
    assert [(await database_sync_to_async(row)(s.ticket.id)).status for s in waiting] == ["waiting"] * 3
    for seeker in waiting:  # their sockets are here again, but not yet heartbeaten: still stale
        seeking._sockets[seeker.ticket.id].add("somewhere")
    await seeking.sweep()
    rows = [await database_sync_to_async(row)(seeker.ticket.id) for seeker in waiting]
    assert [r.status for r in rows] == ["paired", "paired", "waiting"]
    assert rows[0].game_id == rows[1].game_id


async def test_a_seeker_gone_past_the_grace_period_leaves_the_pool(seekers, settings):
    settings.GAME_SEEK_GRACE_SECONDS = 5
    gone = await seekers("bot:a")
    await gone.close()
    await database_sync_to_async(Seek.objects.filter(pk=gone.ticket.id).update)(
        away_since=timezone.now() - timedelta(seconds=6)
    )
    await seeking.sweep()
    assert (await database_sync_to_async(row)(gone.ticket.id)).status == "expired"
    assert (await gone.connect())["type"] == "ended"
    newcomer = await seekers("bot:b")
    assert newcomer.greeting["type"] == "seeking"


async def test_a_seek_whose_process_died_is_not_paired_until_a_heartbeat_says_it_is_back(seekers):
    """A process that dies leaves its seekers' rows as they were: stale heartbeats stop them being
    paired; the sweep of the process that has their socket now makes them pairable and pairs them."""
    first = await seekers("bot:a")
    stale = timezone.now() - timedelta(seconds=60)
    await database_sync_to_async(Seek.objects.filter(pk=first.ticket.id).update)(seen_at=stale)
    second = await seekers("bot:b")
    assert second.greeting["type"] == "seeking"
    await seeking.sweep()  # both sockets are here: the heartbeat, then the pairing
    assert (await first.receive())["type"] == "paired"
    assert (await second.receive())["type"] == "paired"


async def test_a_wrong_token_is_refused_and_the_seeker_is_not_made_pairable(seekers):
    first = await seekers("bot:a", connect=False)
    intruder = WebsocketCommunicator(application, f"/ws/seeks/{first.ticket.id}/", headers=[ORIGIN])
    assert (await intruder.connect())[0]
    await intruder.send_json_to({"type": "hello", "token": "not-the-token"})
    error = await intruder.receive_json_from(timeout=3)
    assert (error["type"], error["code"]) == ("error", "bad_token")
    assert (await intruder.receive_output(3)) == {"type": "websocket.close", "code": 4403, "reason": "bad token"}
    await intruder.disconnect()


async def test_an_unknown_seek_closes_with_4404_at_hello():
    socket = WebsocketCommunicator(application, "/ws/seeks/ABCDEFGHJKMN/", headers=[ORIGIN])
    assert (await socket.connect())[0]
    await socket.send_json_to({"type": "hello", "token": "anything"})
    assert await socket.receive_output(3) == {"type": "websocket.close", "code": 4404, "reason": "unknown seek"}
    await socket.disconnect()


async def test_messages_before_hello_are_refused_and_change_nothing(seekers):
    first = await seekers("bot:a", connect=False)
    socket = WebsocketCommunicator(application, f"/ws/seeks/{first.ticket.id}/", headers=[ORIGIN])
    assert (await socket.connect())[0]
    for message, code in (({"type": "cancel"}, "not_greeted"), ({"type": "seek.paired"}, "unknown_type")):
        await socket.send_json_to(message)
        reply = await socket.receive_json_from(timeout=3)
        assert (reply["type"], reply["code"]) == ("error", code)
    await socket.send_to(text_data="not json")
    assert (await socket.receive_json_from(timeout=3))["code"] == "bad_json"
    assert (await database_sync_to_async(row)(first.ticket.id)).status == "waiting"
    await socket.disconnect()


async def test_one_waiting_seek_per_owner(seekers):
    first = await seekers("bot:a", connect=False)
    with pytest.raises(pool.AlreadySeeking) as refused:
        await seeking.create("bot:a", "127.0.0.1", "5+0", replace=False)
    assert refused.value.seek_id == first.ticket.id
    # A browser choosing again replaces its seek; its old socket hears it ended.
    await first.connect()
    replacement, _ = await seeking.create("bot:a", "127.0.0.1", "5+0", replace=True)
    assert (await first.receive())["status"] == "cancelled"
    assert (await database_sync_to_async(row)(replacement.id)).status == "waiting"


async def test_an_operator_removing_a_seek_tells_its_socket(seekers):
    first = await seekers("bot:a")
    await seeking.end(first.ticket.id, pool.REMOVED)
    assert await first.receive() == {"type": "ended", "seek_id": first.ticket.id, "status": "removed"}


async def test_a_seek_that_pairs_while_the_layer_is_down_answers_201_and_the_waiting_seeker_here_is_told_at_once(
    seekers, async_client, monkeypatch
):
    """The pairing is committed before anyone is told: a channel layer that fails then must not turn
    the bot's answer into an error (it would seek again, and its seat would be lost). The seeker
    waiting on this process is told directly, without the layer (one on another process hears it
    from the database: tests/test_redis_faults.py)."""
    from channels.layers import get_channel_layer

    waiting = await seekers("bot:waiting")
    layer = get_channel_layer()

    async def down(group, message):
        raise OSError("the channel layer is down (injected)")

    monkeypatch.setattr(layer, "group_send", down)
    answer = await async_client.post("/api/seeks", {"time_control": "3+2"}, content_type="application/json")
    assert answer.status_code == 201
    paired = answer.json()
    assert paired["status"] == "paired" and paired["game"]["id"]
    told = await waiting.receive()
    assert told["type"] == "paired" and told["game_id"] == paired["game"]["id"]
    await seeking.sweep()  # the sweep's report of the same pairing is not said twice
    assert await waiting.nothing_more()
    assert await database_sync_to_async(Game.objects.filter(status="playing").count)() == 1
