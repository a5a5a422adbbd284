"""Games nobody joined expire: aborted once, with the code "expired", and their watchers are told.

Two real daphne processes sweeping the same PostgreSQL database abort each such game exactly
once: the conditional append lets one of them, and refuses the other.
"""

import os
from datetime import timedelta

import psycopg
import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from games.core.match import EXPIRED, Event, decide_expire, decide_join, replay, replay_with_history, snapshot
from games.core.rules import IllegalMove
from games.live import registry, sweeper
from games.models import Game, GameEvent
from tests import servers
from tests.servers import Daphne, PostgresDatabase, Redis, prepare
from tests.wsclient import Player, api

HOUR = 3600


@database_sync_to_async
def event_log(game_id):
    return list(GameEvent.objects.filter(game_id=game_id).values_list("kind", "data"))


async def backdate(*game_ids, seconds=2 * HOUR):
    """The games were created ``seconds`` ago (``created_at`` is set on insert, so it is moved after)."""
    await Game.objects.filter(pk__in=game_ids).aupdate(created_at=timezone.now() - timedelta(seconds=seconds))


def test_only_a_game_still_waiting_can_expire():
    waiting = replay("connect4", [Event(1, "created", 1)])
    event = decide_expire(waiting)
    assert (event.kind, event.seat, event.data["code"]) == ("aborted", None, EXPIRED)
    assert snapshot(*replay_with_history("connect4", [Event(1, "created", 1), event]))["abort_code"] == EXPIRED
    joined = replay("connect4", [Event(1, "created", 1), decide_join(waiting)])
    with pytest.raises(IllegalMove) as refused:
        decide_expire(joined)
    assert refused.value.code == "not_waiting"


@pytest.mark.django_db(transaction=True)
async def test_an_unjoined_game_past_the_limit_expires_once_and_its_sockets_are_told(sockets, settings):
    settings.GAME_EXPIRE_UNJOINED_AFTER_SECONDS = HOUR
    settings.GAME_SWEEP_INTERVAL_SECONDS = 0.05
    old_id, token = await registry.create_game()
    joined_id, _ = await registry.create_game()
    await registry.join(joined_id)
    fresh_id, _ = await registry.create_game()
    creator = await sockets(old_id)
    await creator.hello(token=token)  # the first socket starts this process's sweeper
    watcher = await sockets(old_id)
    await watcher.hello()
    await backdate(old_id, joined_id)

    for socket in (creator, watcher):
        event = await socket.receive_type("aborted", timeout=5)
        assert (event["seq"], event["seat"], event["code"], event["reason"]) == (
            2,
            None,
            EXPIRED,
            "Nobody joined in time.",
        )
        assert (event["status"], event["result"], event["winner"]) == ("aborted", "aborted", None)
    await sweeper.expire_unjoined_games()  # a later sweep finds nothing more to do here
    assert await event_log(old_id) == [
        ("created", {}),
        ("aborted", {"reason": "Nobody joined in time.", "code": EXPIRED}),
    ]
    assert await creator.nothing_more() and await watcher.nothing_more()

    # The game joined in time and the new one are untouched.
    assert [
        g async for g in Game.objects.filter(pk__in=[joined_id, fresh_id]).order_by("status").values_list("status")
    ] == [
        ("playing",),
        ("waiting",),
    ]
    # Too late to join; a newcomer's welcome says why the game is over.
    with pytest.raises(IllegalMove) as refused:
        await registry.join(old_id)
    assert refused.value.code == "game_over"
    late = await sockets(old_id)
    welcome = await late.hello()
    assert (welcome["game"]["status"], welcome["game"]["abort_code"]) == ("aborted", EXPIRED)
    assert welcome["events"][-1]["code"] == EXPIRED
    assert (await sync_to_async(Client().get)(f"/api/games/{old_id}")).json()["abort_code"] == EXPIRED


@pytest.mark.django_db(transaction=True)
async def test_each_sweep_expires_a_bounded_batch_oldest_first(settings):
    settings.GAME_EXPIRE_UNJOINED_AFTER_SECONDS = HOUR
    settings.GAME_EXPIRE_BATCH = 2
    ids = [(await registry.create_game())[0] for _ in range(3)]
    for age, game_id in zip((4, 3, 2), ids, strict=True):
        await backdate(game_id, seconds=age * HOUR)

    async def statuses():
        return [(await Game.objects.aget(pk=game_id)).status for game_id in ids]

    await sweeper.expire_unjoined_games()
    assert await statuses() == ["aborted", "aborted", "waiting"]
    await sweeper.expire_unjoined_games()
    assert await statuses() == ["aborted", "aborted", "aborted"]


# ----- Two processes sweeping the same database ------------------------------------


@pytest.mark.timeout(90)
async def test_two_processes_sweeping_together_expire_each_game_once(tmp_path):
    servers.require_shared_services(nginx=False)
    database = PostgresDatabase(f"expiry_{os.getpid()}").create()
    redis = Redis(tmp_path).start()
    daphnes = []
    try:
        env = prepare(tmp_path, DATABASE_URL=database.url, REDIS_URL=redis.url, GAME_SWEEP_INTERVAL_SECONDS="0.2")
        daphnes = [Daphne(env, tmp_path / f"daphne-{i}.log").start() for i in range(2)]
        first, second = daphnes
        games = [api(first.url, "/api/games")["id"] for _ in range(20)]
        # A spectator of each game, on both processes in turn: their sockets start each process's
        # sweeper, and each hears its game's abort whichever process commits it (through Redis).
        watchers = [Player(daphnes[i % 2].url, game_id) for i, game_id in enumerate(games)]
        for watcher in watchers:
            await watcher.connect()
        # Every game becomes a day and a bit old at once, so both processes' next sweeps race on all of them.
        with psycopg.connect(database.url, autocommit=True) as db:
            db.execute("UPDATE games_game SET created_at = now() - interval '25 hours'")
        for watcher in watchers:
            event = await watcher.receive("aborted", timeout=15)
            assert (event["seq"], event["code"], event["status"]) == (2, EXPIRED, "aborted")
        with psycopg.connect(database.url) as db:
            rows = db.execute(
                "SELECT game_id, seq, kind, data->>'code' FROM games_gameevent WHERE kind = 'aborted' ORDER BY game_id"
            ).fetchall()
            servers_seen = db.execute("SELECT count(*) FROM games_server").fetchone()[0]
        assert sorted(game_id for game_id, *_ in rows) == sorted(games)  # one aborted event per game
        assert {(seq, code) for _, seq, _, code in rows} == {(2, EXPIRED)}
        assert servers_seen == 2  # both processes were beating, so both were sweeping
        for watcher in watchers:
            await watcher.close()
    finally:
        for daphne in daphnes:
            daphne.stop()
        redis.stop()
        database.drop()
