"""The database as arbiter: conditional appends, and a stale registry catching up."""

import asyncio
import os
import subprocess
import sys

import pytest
from channels.db import database_sync_to_async
from django.db import DatabaseError, IntegrityError, connection
from django.utils import timezone

from games.core.match import apply_event, decide_join, decide_move
from games.core.rules import IllegalMove
from games.live import registry
from games.models import Game, GameEvent
from games.storage import journal, store

pytestmark = pytest.mark.django_db(transaction=True)


def test_of_two_appends_from_the_same_seq_exactly_one_lands():
    game_id, _ = store.create_game()
    stored = store.load_game(game_id, timezone.now())
    match = store.read_game(game_id)[1]
    join = decide_join(match)
    store.append_event(store.Append(game_id, join, apply_event(match, join), "hash"))
    with pytest.raises(store.StaleGame):
        store.append_event(store.Append(game_id, join, apply_event(match, join), "other"))
    game = Game.objects.get(pk=game_id)
    assert (game.seq, game.seat2_token_hash) == (2, "hash")
    assert len(stored.events) == 1 and len(store.load_game(game_id, timezone.now()).events) == 2


def _joined_game():
    """A game with both seats taken, and the Append that would be its first move."""
    game_id, _ = store.create_game()
    match = store.read_game(game_id)[1]
    join = decide_join(match)
    store.append_event(store.Append(game_id, join, apply_event(match, join), "hash"))
    match = apply_event(match, join)
    move = decide_move(match, 1, {"column": 3})
    return store.Append(game_id, move, apply_event(match, move))


def test_one_transaction_commits_many_games_moves_and_refuses_only_the_stale_one():
    fresh = [_joined_game() for _ in range(3)]
    stale = _joined_game()
    store.append_event(stale)  # someone else got there first
    outcomes = store.append_many([fresh[0], stale, fresh[1], fresh[2]])
    assert [type(outcome) for outcome in outcomes] == [type(None), store.StaleGame, type(None), type(None)]
    for append in fresh:
        assert Game.objects.get(pk=append.game_id).seq == 3
        assert GameEvent.objects.filter(game_id=append.game_id, seq=3, kind="move").count() == 1
    assert GameEvent.objects.filter(game_id=stale.game_id, seq=3).count() == 1


def test_an_append_alone_lands_once_and_its_move_is_stored_as_a_json_object():
    append = _joined_game()
    assert store.append_many([append]) == [None]
    [again] = store.append_many([append])  # the same seq a second time: someone got there first
    assert isinstance(again, store.StaleGame)
    assert Game.objects.get(pk=append.game_id).seq == 3
    # A JSON lookup finds it only if the column holds an object, not a string of JSON.
    assert GameEvent.objects.filter(game_id=append.game_id, seq=3, data__column=3, seat=1).count() == 1


def test_an_append_that_breaks_the_group_fails_alone():
    good, broken = _joined_game(), _joined_game()
    # A row already holds the broken game's next seq (the log and the game row disagree),
    # so inserting its event violates the unique (game, seq) constraint.
    GameEvent.objects.create(game_id=broken.game_id, seq=3, kind="move", seat=1, data={"column": 0})
    outcomes = store.append_many([good, broken])
    assert outcomes[0] is None and isinstance(outcomes[1], IntegrityError)
    assert Game.objects.get(pk=good.game_id).seq == 3
    assert Game.objects.get(pk=broken.game_id).seq == 2  # its transaction rolled back whole


async def test_moves_of_many_games_at_once_are_all_committed_before_they_are_seen(sockets):
    """Concurrent moves share transactions on the journal thread; each is broadcast only once stored."""
    games = []
    for _ in range(12):
        game_id, token1 = await registry.create_game()
        await registry.join(game_id)
        red = await sockets(game_id)
        await red.hello(token=token1)
        games.append(game_id)
    events = await asyncio.gather(*(registry.move(game_id, 1, {"column": 2}) for game_id in games))
    assert [event["seq"] for event in events] == [3] * len(games)
    for game_id in games:
        assert await GameEvent.objects.filter(game_id=game_id, seq=3, kind="move").aexists()


async def test_the_journal_thread_keeps_its_connection():
    """Opening a connection per call was the largest cost of a move; the journal opens one and keeps it."""

    def connection_id():
        return id(connection.connection)

    await journal.run(store.create_game)  # the thread has a connection from here on, whatever ran before
    first = await journal.run(connection_id)
    await journal.run(store.create_game)
    assert await journal.run(connection_id) == first


async def test_a_failed_journal_call_reaches_its_caller_and_the_thread_goes_on():
    """An error in one call is that caller's alone: later calls run, on a usable connection."""
    with pytest.raises(DatabaseError):
        await journal.run(_bad_sql)
    game_id, _ = await journal.run(store.create_game)
    assert await Game.objects.filter(pk=game_id).aexists()


async def test_closing_the_journal_closes_the_journal_threads_own_connection():
    """Tests close it before their database is dropped; the caller's connection is another one."""
    await journal.run(store.create_game)
    assert await journal.run(lambda: connection.connection is not None)
    journal.close()
    assert await journal.run(lambda: connection.connection is None)


def _bad_sql():
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")


async def test_a_stale_registry_catches_up_and_decides_again(sockets):
    """Another process appended a move this process has not seen: the database wins."""
    game_id, token1 = await registry.create_game()
    await registry.join(game_id)
    red = await sockets(game_id)
    await red.hello(token=token1)
    live = await registry.get(game_id)
    assert live.match.seq == 2

    @database_sync_to_async
    def move_elsewhere(column):
        _, match, _ = store.read_game(game_id)
        event = decide_move(match, 1, {"column": column})
        store.append_event(store.Append(game_id, event, apply_event(match, event)))

    await move_elsewhere(0)  # Red's move, committed by "another process"
    # This process still thinks it is Red's turn; the database says Yellow's.
    with pytest.raises(IllegalMove) as refusal:
        await registry.move(game_id, 1, {"column": 6})
    assert refusal.value.code == "not_your_turn"
    assert live.match.seq == 3 and live.match.turn == 2
    # Yellow's move, decided against the caught-up state, lands as seq 4.
    event = await registry.move(game_id, 2, {"column": 0})
    assert (event["seq"], event["row"]) == (4, 1)
    assert (await Game.objects.aget(pk=game_id)).seq == 4


def test_a_script_answers_per_statement_and_is_all_or_nothing():
    """Presence changes and game creation rely on this: on PostgreSQL a script is one round trip."""
    game_id, _ = store.create_game()
    game, event = Game._meta.db_table, GameEvent._meta.db_table
    bump = (f"UPDATE {game} SET presence_version = presence_version + 1 WHERE id = %s", [game_id])
    read = (f"SELECT presence_version, seq FROM {game} WHERE id = %s", [game_id])
    assert store._script([bump, read]) == [[], [(1, 1)]]
    duplicate = (
        f"INSERT INTO {event} (game_id, seq, kind, data, created_at) VALUES (%s, 1, 'created', '{{}}', %s)",
        [game_id, timezone.now()],
    )
    with pytest.raises(IntegrityError):
        store._script([bump, duplicate, bump])  # the log already has seq 1
    assert Game.objects.get(pk=game_id).presence_version == 1  # the first bump was rolled back too


def test_sqlite_runs_in_wal_mode():
    if connection.vendor != "sqlite":
        pytest.skip("the WAL check is for the SQLite default")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


def test_the_secret_key_is_required_when_debug_is_off():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    check = [sys.executable, "-c", "import django; django.setup()"]
    refused = subprocess.run(check, env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "DJANGO_SECRET_KEY" in refused.stderr
    assert subprocess.run(check, env={**env, "DJANGO_DEBUG": "1"}).returncode == 0
    assert subprocess.run(check, env={**env, "DJANGO_SECRET_KEY": "x" * 50}).returncode == 0
