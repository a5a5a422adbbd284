"""Pages and the JSON API, through Django's test client and the real database."""

import json
import re
import socket

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from channels.testing import HttpCommunicator
from django.core import signals
from django.test import Client
from django.urls import reverse

from config.asgi import application
from games.core.identity import ALPHABET, hash_token, is_game_id, normalize_game_id
from games.live import registry
from games.models import Game, GameEvent, Seek

pytestmark = pytest.mark.django_db(transaction=True)


def client_config(response) -> dict:
    """The JSON the game page hands to its script."""
    match = re.search(rb'<script id="client-config" type="application/json">(.*?)</script>', response.content, re.S)
    assert match, "the game page carries its client configuration"
    return json.loads(match.group(1))


def create_game(client) -> str:
    response = client.post(reverse("create"))
    assert response.status_code == 302
    return response.url.strip("/").split("/")[-1]


# ----- Pages -------------------------------------------------------------------


def test_home_offers_a_new_game_and_a_code_box(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b'action="/games/new"' in response.content
    assert b'name="code"' in response.content


def test_the_home_pages_three_forms_start_with_one_time_control(client):
    """Play now, Play the computer and Start a game all begin at 3+2; the API's default stays untimed."""
    page = client.get("/").content.decode()
    for select in ("play-time-control", "computer-time-control", "time-control"):
        options = re.search(rf'<select id="{select}" name="time_control"[^>]*>(.*?)</select>', page, re.S)
        assert options, select
        assert re.findall(r'<option value="([^"]+)" selected>', options.group(1)) == ["3+2"], select
    game_id = client.post("/api/games", data="{}", content_type="application/json").json()["id"]
    assert Game.objects.get(pk=game_id).time_control == ""


def test_the_home_page_suggests_the_computer_level_the_seek_page_offers(client):
    """Level 3, a middling opponent, wherever a page offers the computer (the seek page's offer is
    checked in tests/test_play_now_pages.py)."""
    page = client.get("/").content.decode()
    options = re.search(r'<select id="computer-level" name="level">(.*?)</select>', page, re.S)
    assert options
    assert re.findall(r'<option value="(\d)" selected>', options.group(1)) == ["3"]


def test_new_game_gives_the_creator_seat_one_and_an_invite_link(client):
    game_id = create_game(client)
    assert is_game_id(game_id)
    page = client.get(f"/g/{game_id}/")
    assert page.status_code == 200
    assert page["Cache-Control"].startswith("max-age=0") or "no-store" in page["Cache-Control"]
    config = client_config(page)
    assert config["seat"] == 1 and config["gameId"] == game_id
    assert config["inviteUrl"] == f"http://testserver/g/{game_id}/"
    game = Game.objects.get(pk=game_id)
    assert game.seat1_token_hash == hash_token(config["token"])
    assert config["token"] not in game.seat1_token_hash


def test_creating_a_game_needs_a_csrf_token():
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(reverse("create")).status_code == 403
    assert Game.objects.count() == 0


def test_a_get_never_claims_a_seat(client):
    game_id = create_game(client)
    preview = Client()  # a chat app's link preview, or a friend who has not pressed Join yet
    for _ in range(3):
        page = preview.get(f"/g/{game_id}/")
        assert page.status_code == 200
        assert client_config(page)["seat"] is None
        assert b'id="join-button"' in page.content
    game = Game.objects.get(pk=game_id)
    assert (game.status, game.seat2_token_hash, game.seq) == ("waiting", "", 1)


def test_pressing_join_takes_seat_two_and_keeps_it_across_reloads(client):
    game_id = create_game(client)
    friend = Client()
    response = friend.post(f"/g/{game_id}/join")
    assert response.status_code == 302 and response.url == f"/g/{game_id}/"
    for _ in range(2):  # reloading keeps the seat
        config = client_config(friend.get(f"/g/{game_id}/"))
        assert config["seat"] == 2 and config["token"]
    game = Game.objects.get(pk=game_id)
    assert (game.status, game.seq) == ("playing", 2)
    assert list(GameEvent.objects.filter(game=game).values_list("kind", flat=True)) == ["created", "joined"]


def test_a_third_person_pressing_join_watches_instead(client):
    game_id = create_game(client)
    Client().post(f"/g/{game_id}/join")
    third = Client()
    page = third.post(f"/g/{game_id}/join", follow=True)
    assert client_config(page)["seat"] is None
    assert b"Both seats are taken" in page.content
    assert b'id="join-button"' not in page.content
    assert Game.objects.get(pk=game_id).seq == 2


def test_the_creator_pressing_join_keeps_seat_one(client):
    game_id = create_game(client)
    client.post(f"/g/{game_id}/join")
    assert client_config(client.get(f"/g/{game_id}/"))["seat"] == 1
    assert Game.objects.get(pk=game_id).status == "waiting"


def test_joining_needs_a_csrf_token(client):
    game_id = create_game(client)
    assert Client(enforce_csrf_checks=True).post(f"/g/{game_id}/join").status_code == 403
    assert Game.objects.get(pk=game_id).status == "waiting"


def test_typing_a_code_finds_the_game_forgivingly(client):
    game_id = create_game(client)
    messy = f"  {game_id[:4].lower()}-{game_id[4:].lower()} "
    response = client.get(reverse("find"), {"code": messy})
    assert response.status_code == 302 and response.url == f"/g/{game_id}/"
    pasted = client.get(reverse("find"), {"code": f"http://example.com/g/{game_id}/"})
    assert pasted.url == f"/g/{game_id}/"


def test_an_unknown_code_gets_a_friendly_message(client):
    response = client.get(reverse("find"), {"code": "NOPE2345"})
    assert response.status_code == 404
    assert "There is no game with the code “NOPE2345”".encode() in response.content


def test_joining_by_code_takes_the_free_seat_at_once(client):
    game_id = create_game(client)
    friend = Client()
    response = friend.post(reverse("find"), {"code": f" {game_id[:4].lower()}-{game_id[4:]} "})
    assert response.status_code == 302 and response.url == f"/g/{game_id}/"
    config = client_config(friend.get(response.url))
    assert config["seat"] == 2 and config["token"]
    game = Game.objects.get(pk=game_id)
    assert (game.status, game.seq) == ("playing", 2)
    assert game.seat2_token_hash == hash_token(config["token"])


def test_joining_by_code_a_game_without_a_free_seat_watches_and_says_why(client):
    game_id = create_game(client)
    Client().post(reverse("find"), {"code": game_id})
    third = Client()
    page = third.post(reverse("find"), {"code": game_id}, follow=True)
    assert page.redirect_chain == [(f"/g/{game_id}/", 302)]
    assert client_config(page)["seat"] is None
    assert b"Both seats are taken, so you are watching." in page.content
    assert b'id="join-button"' not in page.content
    assert Game.objects.get(pk=game_id).seq == 2
    # The creator typing the code of their own game keeps seat 1.
    client.post(reverse("find"), {"code": game_id})
    assert client_config(client.get(f"/g/{game_id}/"))["seat"] == 1


def test_joining_by_code_refuses_unknown_codes_and_needs_a_csrf_token(client):
    response = client.post(reverse("find"), {"code": "NOPE2345"})
    assert response.status_code == 404
    assert "There is no game with the code “NOPE2345”".encode() in response.content
    assert b"Type the code of a game." in client.post(reverse("find"), {"code": "  "}).content
    game_id = create_game(client)
    assert Client(enforce_csrf_checks=True).post(reverse("find"), {"code": game_id}).status_code == 403
    assert Game.objects.get(pk=game_id).status == "waiting"


def test_finding_a_game_by_a_get_only_opens_its_page(client):
    game_id = create_game(client)
    visitor = Client()
    assert visitor.get(reverse("find"), {"code": game_id}).url == f"/g/{game_id}/"
    game = Game.objects.get(pk=game_id)
    assert (game.status, game.seq, game.seat2_token_hash) == ("waiting", 1, "")


def test_the_watch_link_never_offers_or_takes_a_seat(client):
    game_id = create_game(client)
    page = client.get(f"/g/{game_id}/")
    assert client_config(page)["watchUrl"] == f"http://testserver/g/{game_id}/watch"
    assert f'id="watch-url" class="copy-field" value="http://testserver/g/{game_id}/watch"'.encode() in page.content
    assert b'id="invite-url"' in page.content  # the creator invites while the seat is free
    visitor = Client()
    for _ in range(3):
        watched = visitor.get(f"/g/{game_id}/watch")
        assert watched.status_code == 200 and "no-store" in watched["Cache-Control"]
        config = client_config(watched)
        assert (config["seat"], config["token"], config["watching"]) == (None, "", True)
        assert b'id="join-button"' not in watched.content and b'id="invite-url"' not in watched.content
    # Not even the creator's own session gets its seat there; it is pointed to it instead.
    own = client.get(f"/g/{game_id}/watch")
    assert (client_config(own)["seat"], client_config(own)["token"]) == (None, "")
    assert b'id="your-seat-note"' in own.content
    game = Game.objects.get(pk=game_id)
    assert (game.status, game.seat2_token_hash, game.seq) == ("waiting", "", 1)
    assert client.post(f"/g/{game_id}/watch").status_code == 405
    assert client.get("/g/ZZZZZZZZ/watch").status_code == 404


def test_play_again_after_a_game_with_a_friend_makes_a_new_invite_at_the_same_time_control(client):
    created = client.post(reverse("create"), {"time_control": "5+0", "public": "on"})
    game_id = created.url.strip("/").split("/")[-1]
    friend = Client()
    friend.post(f"/g/{game_id}/join")
    page = friend.get(f"/g/{game_id}/")
    assert b'data-again="friend"' in page.content
    assert b"A new game to invite a friend to, 5+0, you play Red." in page.content  # Yellow last time
    async_to_sync(registry.resign)(game_id, 1)
    response = friend.post(f"/g/{game_id}/again")
    new_id = response.url.strip("/").split("/")[-1]
    assert new_id != game_id
    new = Game.objects.get(pk=new_id)
    assert (new.status, new.time_control, new.public, new.computer_seat) == ("waiting", "5+0", True, None)
    config = client_config(friend.get(response.url))
    assert config["seat"] == 1 and new.seat1_token_hash == hash_token(config["token"])  # colours swapped
    # A spectator's game-over button starts a game of their own instead.
    watcher_page = Client().get(f"/g/{game_id}/")
    assert b'action="/games/new"' in watcher_page.content and b"data-again" not in watcher_page.content
    assert Client().post(f"/g/{game_id}/again").url == f"/g/{game_id}/"
    assert Game.objects.count() == 2


def test_the_creator_of_a_game_with_a_friend_chooses_the_colour(client):
    created = client.post(reverse("create"), {"seat": "2", "time_control": "untimed"})
    game_id = created.url.strip("/").split("/")[-1]
    config = client_config(client.get(created.url))
    assert config["seat"] == 2
    game = Game.objects.get(pk=game_id)
    assert (game.seat1_token_hash, game.seat2_token_hash) == ("", hash_token(config["token"]))
    assert client.get(f"/api/games/{game_id}").json()["free_seat"] == 1
    visitor = Client().get(f"/g/{game_id}/")
    assert b"Yellow is waiting for an opponent" in visitor.content and b"Take the Red seat" in visitor.content
    friend = Client()
    friend.post(reverse("find"), {"code": game_id})
    assert client_config(friend.get(f"/g/{game_id}/"))["seat"] == 1  # the seat left free: Red, who moves first
    events = list(GameEvent.objects.filter(game_id=game_id).values_list("kind", "seat"))
    assert events == [("created", 2), ("joined", 1)]
    assert client.get(f"/api/games/{game_id}").json()["free_seat"] is None
    assert client_config(client.get(f"/g/{game_id}/"))["seat"] == 2  # the creator keeps Yellow

    drawn = set()
    for _ in range(30):  # "random" draws either colour (both appear: all but certain over 30 games)
        page = Client().post(reverse("create"), {"seat": "random"}, follow=True)
        drawn.add(client_config(page)["seat"])
    assert drawn == {1, 2}
    assert client_config(Client().post(reverse("create"), follow=True))["seat"] == 1  # no choice sent: Red
    before = Game.objects.count()
    refused = client.post(reverse("create"), {"seat": "3"})
    assert refused.status_code == 400 and b"&#x27;seat&#x27; must be 1" in refused.content
    assert Game.objects.count() == before


@pytest.mark.parametrize("seat, expected", [(None, 1), (1, 1), (2, 2), ("random", None)])
def test_api_create_takes_the_creators_seat(client, seat, expected):
    body = {} if seat is None else {"seat": seat}
    created = client.post("/api/games", json.dumps(body), content_type="application/json").json()
    assert created["seat"] in ((1, 2) if expected is None else (expected,))
    game = Game.objects.get(pk=created["id"])
    assert game.token_hash(created["seat"]) == hash_token(created["token"])
    assert game.token_hash(3 - created["seat"]) == ""
    joined = Client().post(f"/api/games/{created['id']}/join").json()
    assert joined["seat"] == 3 - created["seat"]
    assert Game.objects.get(pk=created["id"]).token_hash(joined["seat"]) == hash_token(joined["token"])


@pytest.mark.parametrize("seat", [3, 0, "red", True, [1]])
def test_api_create_refuses_a_seat_it_does_not_know(client, seat):
    response = client.post("/api/games", json.dumps({"seat": seat}), content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "bad_field"
    assert "'seat' must be 1" in response.json()["message"]
    assert Game.objects.count() == 0


def test_an_unknown_game_page_is_a_404(client):
    assert client.get("/g/ZZZZZZZZ/").status_code == 404
    assert client.get("/g/lowercase/").status_code == 404


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_the_channel_layer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "channel_layer": "ok"}}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_unavailable_when_the_channel_layer_is_unreachable(client, settings):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{port}/0"]},
        }
    }
    channel_layers.backends.clear()
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert "Connection" in body["checks"]["channel_layer"]
    # Liveness does not depend on it.
    assert client.get("/healthz").status_code == 200


def test_game_ids_are_short_unambiguous_and_normalised():
    assert not set("01ILO") & set(ALPHABET)
    assert normalize_game_id(" ab-cd efgh ") == "ABCDEFGH"


# ----- JSON API ----------------------------------------------------------------


def test_api_create_join_read_and_events(client):
    created = client.post("/api/games", data="{}", content_type="application/json")
    assert created.status_code == 201
    body = created.json()
    game_id = body["id"]
    assert body["seat"] == 1 and len(body["token"]) >= 43
    assert body["websocket"] == f"ws://testserver/ws/games/{game_id}/"
    assert body["page"] == f"http://testserver/g/{game_id}/"

    joined = client.post(f"/api/games/{game_id}/join")
    assert joined.status_code == 200
    assert joined.json()["seat"] == 2 and joined.json()["token"] != body["token"]
    assert client.post(f"/api/games/{game_id}/join").json()["code"] == "seat_taken"

    state = client.get(f"/api/games/{game_id}").json()
    assert (state["status"], state["turn"], state["seq"], state["columns"], state["rows"]) == ("playing", 1, 2, 7, 6)
    assert state["board"] == [[0] * 7] * 6
    assert "token" not in json.dumps(state)

    events = client.get(f"/api/games/{game_id}/events").json()
    assert [e["type"] for e in events["events"]] == ["created", "joined"]
    assert client.get(f"/api/games/{game_id}/events?after=1").json()["events"][0]["seq"] == 2


def test_api_create_works_without_a_body_and_needs_no_csrf():
    response = Client(enforce_csrf_checks=True).post("/api/games")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "code"),
    [("{nope", "bad_json"), ('{"kind": "chess"}', "bad_field"), ("[]", "bad_json")],
)
def test_api_create_refuses_bad_bodies(client, body, code):
    response = client.post("/api/games", data=body, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == code
    assert Game.objects.count() == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/games", '{"opponent": "computer", "level": 5, "seat": 2}'),
        ("/api/games", "garbage"),
        ("/api/seeks", '{"time_control": "10+5"}'),
    ],
)
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain"])
def test_an_api_body_not_labelled_json_is_refused_not_ignored(client, path, body, content_type):
    """What ``curl -d`` sends without ``-H 'Content-Type: application/json'``: never a default game."""
    response = client.post(path, data=body, content_type=content_type)
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert "Content-Type: application/json" in response.json()["message"]
    assert not Game.objects.exists() and not Seek.objects.exists()


def test_the_same_body_labelled_json_is_read(client):
    body = '{"opponent": "computer", "level": 5, "seat": 2}'
    created = client.post("/api/games", data=body, content_type="application/json; charset=utf-8")
    assert created.status_code == 201
    assert created.json()["seat"] == 2 and created.json()["computer"]["level"] == 5
    assert Game.objects.get().computer_level == 5


def test_api_errors_for_unknown_games_and_bad_queries(client):
    assert client.post("/api/games/ZZZZZZZZ/join").json()["code"] == "unknown_game"
    assert client.get("/api/games/ZZZZZZZZ").status_code == 404
    assert client.get("/api/games/ZZZZZZZZ/events").json()["code"] == "unknown_game"
    game_id = client.post("/api/games").json()["id"]
    assert client.get(f"/api/games/{game_id}/events?after=-1").json()["code"] == "bad_field"
    assert client.get("/api/games").status_code == 405


async def test_the_api_is_served_without_browser_middleware_and_pages_with_it():
    """Through the real ASGI application: API answers skip sessions and frame rules, pages keep them."""
    host = [(b"host", b"testserver")]
    answer = await HttpCommunicator(application, "POST", "/api/games", headers=host).get_response()
    headers = {name.decode().lower(): value.decode() for name, value in answer["headers"]}
    assert answer["status"] == 201
    assert headers["x-content-type-options"] == "nosniff"  # the security middleware still runs
    assert "x-frame-options" not in headers and "set-cookie" not in headers
    page = await HttpCommunicator(application, "GET", "/", headers=host).get_response()
    headers = {name.decode().lower(): value.decode() for name, value in page["headers"]}
    assert page["status"] == 200 and headers["x-frame-options"] == "DENY"


async def api_call(method: str, path: str) -> dict:
    """One request through the whole ASGI application, answered and finished (its clean-up done)."""
    communicator = HttpCommunicator(application, method, path, headers=[(b"host", b"testserver")])
    answer = await communicator.get_response()
    await communicator.wait()  # the handler goes on after the answer: it closes the response
    return answer


async def test_the_lean_api_still_sends_each_request_signal_once():
    """API answers skip the worker thread, not Django's request cycle: receivers (such as the
    database connection clean-up) hear each request start and finish, a refused one too."""
    heard = []

    def started(sender, **kwargs):
        heard.append("started")

    def finished(sender, **kwargs):
        heard.append("finished")

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        created = await api_call("POST", "/api/games")
        refused = await api_call("GET", "/api/games")
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert (created["status"], refused["status"]) == (201, 405)
    assert heard == ["started", "finished", "started", "finished"]


async def test_the_lean_api_runs_any_receiver_django_allows():
    """An async receiver is awaited on the event loop and a sync one that reads the database runs
    on a worker thread, as under Django's own handler; neither breaks an API call."""
    heard = []

    async def started_async(sender, **kwargs):
        heard.append("started async")

    async def finished_async(sender, **kwargs):
        heard.append("finished async")

    def started_sync(sender, **kwargs):
        heard.append(f"started sync, {Game.objects.count()} game(s)")  # the ORM refuses the event loop

    signals.request_started.connect(started_async)
    signals.request_finished.connect(finished_async)
    try:
        first = await api_call("POST", "/api/games")
        assert heard == ["started async", "finished async"]
        signals.request_started.connect(started_sync)
        second = await api_call("POST", "/api/games")
    finally:
        signals.request_started.disconnect(started_async)
        signals.request_started.disconnect(started_sync)
        signals.request_finished.disconnect(finished_async)
    assert (first["status"], second["status"]) == (201, 201)
    # Django runs a signal's sync and async receivers side by side: either may come first.
    assert sorted(heard[2:4]) == ["started async", "started sync, 1 game(s)"]
    assert heard[4:] == ["finished async"]


def answer_json(answer: dict) -> tuple[int, dict, dict]:
    headers = {name.decode().lower(): value.decode() for name, value in answer["headers"]}
    assert headers["content-type"] == "application/json"
    return answer["status"], json.loads(answer["body"]), headers


async def test_the_api_answers_json_for_unknown_paths_and_methods():
    """A bot never gets an HTML page: Django's own 404 and 405 become JSON with a code."""
    status, body, _ = answer_json(await api_call("GET", "/api/nowhere"))
    assert (status, body["code"]) == (404, "not_found")
    status, body, headers = answer_json(await api_call("GET", "/api/games"))
    assert (status, body["code"], headers["allow"]) == (405, "method_not_allowed", "POST")


async def test_a_database_failure_during_an_api_call_is_a_json_503_to_retry(monkeypatch):
    from django.db import OperationalError

    from games.web import api

    async def unreachable(game_id):
        raise OperationalError("the database went away (injected)")

    monkeypatch.setattr(api, "_read", unreachable)
    status, body, headers = answer_json(await api_call("GET", "/api/games/ABCDEFGH"))
    assert (status, body["code"], headers["retry-after"]) == (503, "unavailable", "1")


async def test_an_unexpected_failure_during_an_api_call_is_a_json_500(monkeypatch):
    from games.web import api

    async def broken(game_id):
        raise RuntimeError("a bug (injected)")

    monkeypatch.setattr(api, "_read", broken)
    status, body, _ = answer_json(await api_call("GET", "/api/games/ABCDEFGH"))
    assert (status, body["code"]) == (500, "internal")
    page = await HttpCommunicator(application, "GET", "/g/ZZZZZZZZ/", headers=[(b"host", b"testserver")]).get_response()
    assert page["status"] == 404 and b"<html" in page["body"].lower()  # pages stay pages
