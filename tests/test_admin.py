"""The operators' admin: list, filter, search, the board, the log, and a live abort."""

import re
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from games import admin, metrics
from games.live import registry, sweeper
from games.models import Connection, Game, GameEvent, Server
from tests.test_consumers import play_moves, seated_game


@pytest.fixture
def admin_client(django_user_model):
    user = django_user_model.objects.create_superuser("operator", "op@example.com", "a-long-password")
    client = Client()
    client.force_login(user)
    return client


def make_game(client, moves=()):
    game = client.post("/api/games").json()
    if moves:
        joined = client.post(f"/api/games/{game['id']}/join").json()
        assert joined["seat"] == 2
    return game["id"]


@pytest.mark.django_db(transaction=True)
def test_changelist_lists_filters_and_searches_games(admin_client):
    first, second = make_game(admin_client), make_game(admin_client, moves=[0])
    url = reverse("admin:games_game_changelist")
    page = admin_client.get(url)
    assert page.status_code == 200
    assert first.encode() in page.content and second.encode() in page.content
    waiting = admin_client.get(url, {"status__exact": "waiting"})
    assert first.encode() in waiting.content and second.encode() not in waiting.content
    found = admin_client.get(url, {"q": second})
    assert second.encode() in found.content and first.encode() not in found.content


@pytest.mark.django_db(transaction=True)
def test_change_page_shows_the_board_and_the_event_log(admin_client):
    game_id = make_game(admin_client)
    page = admin_client.get(reverse("admin:games_game_change", args=[game_id]))
    assert page.status_code == 200
    assert b'class="game-board"' in page.content
    assert page.content.count(b"<tr><td") >= 6  # six board rows
    assert b"created" in page.content
    # The seat tokens never show, not even hashed.
    game = Game.objects.get(pk=game_id)
    assert game.seat1_token_hash.encode() not in page.content


@pytest.mark.django_db(transaction=True)
def test_the_games_list_has_short_columns_to_fit_a_laptop(admin_client):
    game_id = make_game(admin_client, moves=[0])
    page = admin_client.get(reverse("admin:games_game_changelist")).content.decode()
    headers = re.findall(r'<th scope="col" class="[^"]*column-(\w+)[^"]*">', page)
    assert headers == [
        "id",
        "clock_name",
        "public",
        "opponent_short",
        "state",
        "seq",
        "connections",
        "created",
        "updated",
    ]
    titles = re.findall(r'<div class="text"><a href="\?o=[^"]*">([^<]+)</a></div>', page)
    assert titles == [
        "Id",
        "Clock",
        "Public",
        "Opponent",
        "State",
        "Seq",
        "Conn.",
        "Created",
        "Updated",
    ]
    game = Game.objects.get(pk=game_id)
    local = timezone.localtime(game.created_at)
    minute = f'<span title="{local:%Y-%m-%d %H:%M:%S %Z}">{local:%m-%d %H:%M}</span>'
    row = re.search(rf"<tr>.*?{game_id}.*?</tr>", page, re.S).group(0)
    assert f'<td class="field-created">{minute}</td>' in row
    assert '<td class="field-opponent_short">people</td>' in row
    assert '<td class="field-clock_name">untimed</td>' in row
    assert '<td class="field-state">Playing</td>' in row


def test_the_lists_state_says_who_won_and_how_in_a_few_words():
    def outcome(status, result="", winner=None, code=None, text=None):
        game = Game(kind="connect4", status=status, result=result, winner=winner)
        game.abort_code, game.abort_text = code, text
        return str(admin.GameAdmin(Game, admin.admin.site).state(game))

    assert outcome("waiting") == "Waiting"
    assert outcome("playing") == "Playing"
    assert outcome("finished", "win", 1) == "Red wins (four)"
    assert outcome("finished", "resigned", 2) == "Yellow wins (resign)"
    assert outcome("finished", "abandoned", 1) == "Red wins (left)"
    assert outcome("finished", "timeout", 2) == "Yellow wins (time)"
    assert outcome("finished", "draw") == "Draw"
    assert outcome("aborted", "aborted", code="first_move", text="Red did not move.") == (
        '<span title="Red did not move.">Aborted: first_move</span>'
    )


@pytest.mark.django_db(transaction=True)
def test_a_games_page_is_for_reading_with_no_save_buttons(admin_client):
    game_id = make_game(admin_client, moves=[0])
    url = reverse("admin:games_game_change", args=[game_id])
    page = admin_client.get(url).content.decode()
    assert "View game" in page and 'class="game-board"' in page
    for button in ("_save", "_continue", "_addanother"):
        assert f'name="{button}"' not in page, button
    assert 'class="closelink"' in page  # Close, back to the list
    # Nothing can be saved there, not even by posting the form.
    assert admin_client.post(url, {"status": "finished"}).status_code == 403
    assert Game.objects.get(pk=game_id).status == "playing"


@pytest.mark.django_db(transaction=True)
def test_the_admin_needs_staff(client):
    assert client.get(reverse("admin:games_game_changelist")).status_code == 302


@pytest.mark.django_db(transaction=True)
async def test_abort_action_tells_connected_players_at_once(admin_client, sockets):
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await play_moves([3, 3], red, yellow, watcher)
    response = await sync_to_async(admin_client.post)(
        reverse("admin:games_game_changelist"),
        {"action": "abort_games", "_selected_action": [game_id]},
    )
    assert response.status_code == 302
    for socket in (red, yellow, watcher):
        event = await socket.receive_type("aborted")
        assert (event["seq"], event["status"], event["turn"]) == (5, "aborted", None)
        assert event["reason"] == "Aborted by an operator."
    game = await Game.objects.aget(pk=game_id)
    assert (game.status, game.result) == ("aborted", "aborted")
    await red.send(type="move", column=0)
    assert (await red.receive_type("error"))["code"] == "game_over"
    # Aborting again is refused politely.
    again = await sync_to_async(admin_client.post)(
        reverse("admin:games_game_changelist"),
        {"action": "abort_games", "_selected_action": [game_id]},
        follow=True,
    )
    assert b"already over" in again.content
    assert registry.connection_count(game_id) == 3


def connections_cell(page, game_id: str) -> int:
    """The Connections column of one game's row in the changelist."""
    (row,) = [row for row in page.content.split(b"<tr") if f">{game_id}</a>".encode() in row]
    return int(re.search(rb'<td class="field-connections">(\d+)</td>', row).group(1))


@pytest.mark.django_db(transaction=True)
def test_changelist_counts_connections_of_every_live_process(admin_client):
    """Two processes hold sockets to one game; a third stopped beating, so its socket no longer counts."""
    busy, quiet = make_game(admin_client, moves=[0]), make_game(admin_client)
    now = timezone.now()
    here = Server.objects.create(id="a", host="web-1", pid=10, seen_at=now)
    there = Server.objects.create(id="b", host="web-2", pid=20, seen_at=now)
    dead = Server.objects.create(id="c", host="web-3", pid=30, seen_at=now - timedelta(minutes=5))
    for channel, server, seat in [("c1", here, 1), ("c2", there, 2), ("c3", there, None), ("c4", dead, None)]:
        Connection.objects.create(channel_name=channel, game_id=busy, server=server, seat=seat)

    url = reverse("admin:games_game_changelist")
    page = admin_client.get(url)
    assert connections_cell(page, busy) == 3
    assert connections_cell(page, quiet) == 0
    live = admin_client.get(url, {"live": "yes"})
    assert busy.encode() in live.content and quiet.encode() not in live.content

    change = admin_client.get(reverse("admin:games_game_change", args=[busy]))
    assert b"seat 1 on web-1:10" in change.content and b"spectator on web-2:20" in change.content
    assert b"web-3" not in change.content

    servers = admin_client.get(reverse("admin:games_server_changelist"))
    assert servers.status_code == 200
    assert b"web-1" in servers.content and b"web-3" in servers.content
    assert servers.content.count(b'alt="True"') == 2 and servers.content.count(b'alt="False"') == 1


@pytest.mark.django_db(transaction=True)
async def test_changelist_counts_real_sockets(admin_client, sockets):
    game_id, *_ = await seated_game(sockets)  # two players and a spectator, greeted
    page = await sync_to_async(admin_client.get)(reverse("admin:games_game_changelist"))
    assert connections_cell(page, game_id) == 3


@pytest.mark.django_db(transaction=True)
async def test_the_admin_shows_why_a_game_was_aborted(admin_client, settings):
    settings.GAME_EXPIRE_UNJOINED_AFTER_SECONDS = 60
    expired, _ = await registry.create_game()
    await Game.objects.filter(pk=expired).aupdate(created_at=timezone.now() - timedelta(hours=1))
    await sweeper.expire_unjoined_games()
    by_operator, _ = await registry.create_game()
    await registry.abort(by_operator)
    listing = (await sync_to_async(admin_client.get)(reverse("admin:games_game_changelist"))).content.decode()
    # The list shows the code, the words on hover; the game's page has both.
    assert '<span title="Nobody joined in time.">Aborted: expired</span>' in listing
    assert '<span title="Aborted by an operator.">Aborted: operator</span>' in listing
    page = await sync_to_async(admin_client.get)(reverse("admin:games_game_change", args=[expired]))
    assert "expired: Nobody joined in time." in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_live_metrics_page_is_linked_from_the_index_and_shows_the_collected_numbers(admin_client):
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("admin-metrics")}"' in index
    make_game(admin_client, moves=[0])
    page = admin_client.get(reverse("admin-metrics"))
    assert page.status_code == 200
    assert b"js/admin/metrics.js" in page.content and b"<script>" not in page.content  # no inline script
    numbers = admin_client.get(reverse("admin-metrics-numbers")).json()
    assert set(numbers) == {
        "open_sockets",
        "games_playing",
        "games_in_memory",
        "moves_per_minute",
        "moves_committed",
        "refusals",
    }
    totals = metrics.totals()
    assert numbers["games_in_memory"] == totals["game_games_in_memory"] >= 1  # the join loaded it
    assert numbers["open_sockets"] == totals["game_open_sockets"]
    assert numbers["games_playing"] == 1


def metric_rows(page) -> dict[str, str]:
    """The dashboard's rows as rendered: each number's label, by the metric it shows."""
    rows = re.findall(r'<th scope="row">([^<]+)</th><td data-metric="(\w+)">([^<]*)</td>', page.content.decode())
    return {metric: (label, value) for label, metric, value in rows}


@pytest.mark.django_db(transaction=True)
async def test_the_dashboard_names_what_each_game_count_counts_and_has_the_rate_at_once(admin_client, sockets):
    """Two games playing, one open in a browser: the two numbers differ, and their labels say why
    (the database's status, as the games list has it, against the games held in memory). Moves
    per minute is a number on the first render, counted from the log."""
    _, red, yellow, watcher, _, _ = await seated_game(sockets)
    await play_moves([3, 3, 4], red, yellow, watcher)
    await sync_to_async(make_game)(admin_client, moves=[0])  # playing, and nobody's socket is open on it
    page = await sync_to_async(admin_client.get)(reverse("admin-metrics"))
    rows = metric_rows(page)
    assert list(rows) == [
        "open_sockets",
        "games_playing",
        "games_in_memory",
        "moves_per_minute",
        "moves_committed",
        "refusals",
    ]
    playing_label, playing = rows["games_playing"]
    memory_label, in_memory = rows["games_in_memory"]
    assert int(playing) == 2
    assert int(in_memory) == metrics.totals()["game_games_in_memory"]
    assert "in the database, as the games list counts them" in playing_label
    assert "stays playing until it is forfeited" in playing_label
    assert "held in memory" in memory_label and "whatever their status" in memory_label
    assert "Games in play" not in page.content.decode()
    label, rate = rows["moves_per_minute"]
    assert label == "Moves in the last minute (from the event log)"
    assert rate == "3", "the three moves just made, on the first render"


@pytest.mark.django_db(transaction=True)
def test_moves_per_minute_counts_the_last_minute_of_the_log(admin_client):
    game_id = make_game(admin_client, moves=[0])
    now = timezone.now()
    game = Game.objects.get(pk=game_id)
    for seq, age in ((3, 30), (4, 90), (5, 5)):  # two inside the minute, one before it
        GameEvent.objects.create(game=game, seq=seq, kind="move", seat=1 + seq % 2, data={"column": 0})
        GameEvent.objects.filter(game=game, seq=seq).update(created_at=now - timedelta(seconds=age))
    assert admin.moves_per_minute(now) == 2
    assert admin_client.get(reverse("admin-metrics-numbers")).json()["moves_per_minute"] == 2


@pytest.mark.django_db(transaction=True)
def test_the_live_metrics_are_for_staff_only():
    for name in ("admin-metrics", "admin-metrics-numbers"):
        answer = Client().get(reverse(name))
        assert answer.status_code == 302 and "/admin/login/" in answer["Location"]


@pytest.mark.django_db(transaction=True)
async def test_the_queue_of_seekers_is_listed_and_an_operator_can_remove_one(admin_client):
    from tests.test_seeks import Seeker

    waiting = await Seeker("bot:a", "10+5").seek()
    assert (await waiting.connect())["type"] == "seeking"
    page = await sync_to_async(admin_client.get)(reverse("admin:games_seek_changelist"))
    assert page.status_code == 200
    assert waiting.ticket.id.encode() in page.content and b"10+5" in page.content
    detail = await sync_to_async(admin_client.get)(reverse("admin:games_seek_change", args=[waiting.ticket.id]))
    assert detail.status_code == 200 and waiting.token.encode() not in detail.content

    response = await sync_to_async(admin_client.post)(
        reverse("admin:games_seek_changelist"),
        {"action": "remove_seeks", "_selected_action": [waiting.ticket.id]},
        follow=True,
    )
    assert b"Removed 1 seeker(s)." in response.content
    assert await waiting.receive() == {"type": "ended", "seek_id": waiting.ticket.id, "status": "removed"}
    await waiting.close()


@pytest.mark.django_db(transaction=True)
def test_the_admin_shows_which_seat_is_the_computer_and_its_level(admin_client, settings):
    settings.GAME_COMPUTER_PACE = 0
    against = admin_client.post(
        "/api/games", {"opponent": "computer", "level": 4, "seat": 1}, content_type="application/json"
    ).json()["id"]
    people = make_game(admin_client)
    url = reverse("admin:games_game_changelist")
    page = admin_client.get(url)
    assert b'<span title="Strong">computer L4 (Yellow)</span>' in page.content and b">people</td>" in page.content
    only_computer = admin_client.get(url, {"opponent": "computer"})
    assert against.encode() in only_computer.content and people.encode() not in only_computer.content
    only_people = admin_client.get(url, {"opponent": "people"})
    assert people.encode() in only_people.content and against.encode() not in only_people.content
    change = admin_client.get(reverse("admin:games_game_change", args=[against]))
    assert b"computer as Yellow, level 4 (Strong)" in change.content
