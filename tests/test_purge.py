"""manage.py purge_games: old aborted games that never started go, in batches; everything else stays."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from games.core.identity import hash_token
from games.core.match import decide_abort, decide_join, decide_resign, replay
from games.models import Connection, Game, GameEvent, RequestKey, Server
from games.storage import store

pytestmark = pytest.mark.django_db


def act(game_id, decide, token_hash=""):
    """Append the event ``decide`` chooses, as the registry would (decide, then the conditional append)."""
    game = Game.objects.get(pk=game_id)
    match = replay(game.kind, store.events_after(game_id, 0))
    event = decide(match)
    store.append_event(
        store.Append(game_id, event, replay(game.kind, [*store.events_after(game_id, 0), event]), token_hash)
    )


def game(days_old, *steps):
    """A game created ``days_old`` days ago that went through ``steps`` (join, abort, resign)."""
    game_id, _ = store.create_game()
    for step in steps:
        if step == "join":
            act(game_id, decide_join, hash_token("yellow"))
        elif step == "abort":
            act(game_id, lambda match: decide_abort(match, "Aborted by an operator."))
        elif step == "resign":
            act(game_id, lambda match: decide_resign(match, 1))
    Game.objects.filter(pk=game_id).update(created_at=timezone.now() - timedelta(days=days_old))
    return game_id


def purge(*args):
    out = StringIO()
    call_command("purge_games", *args, stdout=out)
    return out.getvalue()


def test_old_aborted_games_that_never_started_are_deleted_in_batches_with_their_rows(settings):
    settings.GAME_PURGE_AFTER_DAYS = 30
    doomed = [game(40, "abort") for _ in range(5)]
    server = Server.objects.create(id="gone", host="h", pid=1, seen_at=timezone.now())
    Connection.objects.create(channel_name="stale", game_id=doomed[0], server=server, seat=None)
    kept = {
        "recent": game(10, "abort"),
        "finished": game(400, "join", "resign"),
        "aborted after a join": game(400, "join", "abort"),
        "in play": game(400, "join"),
        "waiting": game(400),
    }

    output = purge("--batch-size", "2")

    assert not Game.objects.filter(pk__in=doomed).exists()
    assert not GameEvent.objects.filter(game_id__in=doomed).exists()
    assert not Connection.objects.filter(channel_name="stale").exists()
    assert set(Game.objects.values_list("id", flat=True)) == set(kept.values())
    assert all(GameEvent.objects.filter(game_id=game_id).exists() for game_id in kept.values())
    assert [line.split(":")[0] for line in output.splitlines()[:-2]] == ["Batch 1", "Batch 2", "Batch 3"]
    assert "Deleted 5 aborted game(s)" in output and "with 10 event(s), in 3 batch(es)" in output
    assert "1 games.Connection" in output


def test_older_than_overrides_the_setting(settings):
    settings.GAME_PURGE_AFTER_DAYS = 30
    week_old = game(8, "abort")
    assert "Deleted 0 aborted game(s)" in purge()
    assert Game.objects.filter(pk=week_old).exists()
    assert "Deleted 1 aborted game(s)" in purge("--older-than", "7")
    assert not Game.objects.filter(pk=week_old).exists()


def test_a_dry_run_counts_and_deletes_nothing():
    doomed = [game(40, "abort") for _ in range(3)]
    output = purge("--dry-run")
    assert output.startswith("Would delete 3 aborted game(s) that never started")
    assert Game.objects.filter(pk__in=doomed).count() == 3
    assert GameEvent.objects.filter(game_id__in=doomed).count() == 6


def test_idempotency_keys_are_forgotten_once_past_their_hours(settings):
    settings.GAME_IDEMPOTENCY_KEEP_HOURS = 24
    now = timezone.now()
    RequestKey.objects.create(key="old", fingerprint="f", resource="G1", created_at=now - timedelta(hours=25))
    RequestKey.objects.create(key="new", fingerprint="f", resource="G2", created_at=now - timedelta(hours=23))
    assert "Would forget 1 idempotency key(s)." in purge("--dry-run")
    assert RequestKey.objects.count() == 2
    assert "Forgot 1 idempotency key(s) older than 24 hours." in purge()
    assert list(RequestKey.objects.values_list("key", flat=True)) == ["new"]
