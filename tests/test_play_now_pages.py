"""Play now's pages and API, and the lobby's lists, through Django's test client and the real database."""

import json
import re

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from games.live import registry
from games.models import Game, Seek
from tests.test_views import client_config

pytestmark = pytest.mark.django_db(transaction=True)


def seek_config(response) -> dict:
    match = re.search(rb'<script id="seek-config" type="application/json">(.*?)</script>', response.content, re.S)
    assert match, "the seek page carries its configuration"
    return json.loads(match.group(1))


def play(client, time_control="3+2"):
    return client.post("/play", {"time_control": time_control})


def test_play_now_makes_a_seek_for_the_session_and_shows_it_waiting():
    browser = Client()
    response = play(browser)
    assert response.status_code == 302
    seek_id = response.url.strip("/").split("/")[-1]
    page = browser.get(response.url)
    assert page.status_code == 200
    assert b"Looking for an opponent" in page.content and b"3+2" in page.content
    config = seek_config(page)
    assert config["seekId"] == seek_id and config["socketPath"] == f"/ws/seeks/{seek_id}/"
    seek = Seek.objects.get(pk=seek_id)
    assert (seek.status, seek.time_control) == ("waiting", "3+2")
    assert seek.owner.startswith("session:") and browser.session.session_key not in seek.owner


def test_two_browsers_pressing_play_now_land_in_the_same_game_one_seat_each():
    red_or_yellow = [Client(), Client()]
    seek_pages = [play(browser).url for browser in red_or_yellow]
    game_urls = []
    for browser, seek_page in zip(red_or_yellow, seek_pages, strict=True):
        response = browser.get(seek_page)  # paired: the seek's page sends the player to the game
        assert response.status_code == 302 and response.url.startswith("/g/")
        game_urls.append(response.url)
    assert game_urls[0] == game_urls[1]
    seats = {client_config(browser.get(game_urls[0]))["seat"] for browser in red_or_yellow}
    assert seats == {1, 2}
    game = Game.objects.get(pk=game_urls[0].strip("/").split("/")[-1])
    assert (game.status, game.time_control) == ("playing", "3+2")


def test_play_again_after_a_play_now_game_looks_for_a_new_opponent_at_the_same_time_control():
    players = [Client(), Client()]
    seek_pages = [play(browser, "10+5").url for browser in players]
    arrived = [browser.get(page) for browser, page in zip(players, seek_pages, strict=True)]  # both seated
    game_url = arrived[0].url
    game_id = game_url.strip("/").split("/")[-1]
    page = players[0].get(game_url)
    assert b'data-again="play_now"' in page.content and b"Look for a new opponent, 10+5." in page.content
    async_to_sync(registry.resign)(game_id, client_config(page)["seat"])
    # A rematch of a Play now game is one too: Play again after it also seeks.
    for seat in (1, 2):
        async_to_sync(registry.rematch)(game_id, seat)
    rematch_id = Game.objects.get(rematch_of_id=game_id).id
    async_to_sync(registry.resign)(rematch_id, 1)
    for game in (game_id, rematch_id):
        response = players[0].post(f"/g/{game}/again")
        assert response.status_code == 302 and response.url.startswith("/play/")
        seek = Seek.objects.get(pk=response.url.strip("/").split("/")[-1])
        assert (seek.status, seek.time_control) == ("waiting", "10+5")
        assert players[0].get(response.url).status_code == 200  # the seek's page, this session's seek
    assert Game.objects.count() == 2


def test_another_play_now_replaces_the_sessions_seek():
    browser = Client()
    first = play(browser, "3+2").url.strip("/").split("/")[-1]
    second = play(browser, "5+0").url.strip("/").split("/")[-1]
    assert Seek.objects.get(pk=first).status == "cancelled"
    assert Seek.objects.get(pk=second).status == "waiting"
    assert browser.get(f"/play/{first}/").status_code == 404  # no longer this session's seek


def test_cancel_goes_home_with_a_message_and_the_seek_is_over():
    browser = Client()
    seek_page = play(browser).url
    seek_id = seek_page.strip("/").split("/")[-1]
    response = browser.post(f"/play/{seek_id}/cancel", follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert b"You stopped looking for an opponent." in response.content
    assert Seek.objects.get(pk=seek_id).status == "cancelled"


def test_someone_elses_seek_page_is_not_found():
    seek_page = play(Client()).url
    assert Client().get(seek_page).status_code == 404
    assert Client().post(seek_page + "cancel").status_code in (403, 404)  # no CSRF or not theirs


def test_play_now_refuses_an_unknown_time_control_and_makes_nothing():
    response = play(Client(), "2+1")
    assert response.status_code == 400
    assert not Seek.objects.exists()


def test_play_now_needs_a_csrf_token():
    assert Client(enforce_csrf_checks=True).post("/play", {"time_control": "3+2"}).status_code == 403


# ----- The API ---------------------------------------------------------------------


def api(client, method, path, body=None, **extra):
    call = client.post if method == "POST" else client.get
    if body is None:
        return call(path, **extra)
    return call(path, json.dumps(body), content_type="application/json", **extra)


def test_a_bot_seeks_is_paired_and_reads_its_game_and_seat():
    first = api(Client(REMOTE_ADDR="10.0.0.1"), "POST", "/api/seeks", {"time_control": "1+0"})
    assert first.status_code == 201
    waiting = first.json()
    assert waiting["status"] == "waiting" and waiting["time_control"] == "1+0"
    assert waiting["websocket"] == f"ws://testserver/ws/seeks/{waiting['id']}/" and len(waiting["token"]) == 43

    second = api(Client(REMOTE_ADDR="10.0.0.2"), "POST", "/api/seeks", {"time_control": "1+0"}).json()
    assert second["status"] == "paired"
    state = api(Client(), "GET", f"/api/seeks/{waiting['id']}").json()
    assert state["status"] == "paired" and state["game"]["id"] == second["game"]["id"]
    assert {state["game"]["seat"], second["game"]["seat"]} == {1, 2}
    assert "token" not in state
    game = Game.objects.get(pk=second["game"]["id"])
    assert game.time_control == "1+0" and game.status == "playing"


def test_a_bot_has_one_waiting_seek_at_a_time():
    bot = Client(REMOTE_ADDR="10.0.0.1")
    first = api(bot, "POST", "/api/seeks").json()
    again = api(bot, "POST", "/api/seeks", {"time_control": "5+0"})
    assert again.status_code == 409
    assert again.json() == {
        "code": "already_seeking",
        "message": "Your address has a seek waiting already; cancel it first.",
        "seek_id": first["id"],
    }
    cancelled = api(bot, "POST", f"/api/seeks/{first['id']}/cancel", {"token": first["token"]})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert api(bot, "POST", "/api/seeks", {"time_control": "5+0"}).status_code == 201


def test_the_seek_api_refuses_bad_input_and_changes_nothing():
    bot = Client(REMOTE_ADDR="10.0.0.1")
    assert api(bot, "POST", "/api/seeks", {"time_control": "7+7"}).json()["code"] == "bad_field"
    bad = bot.post("/api/seeks", "{not json", content_type="application/json")
    assert (bad.status_code, bad.json()["code"]) == (400, "bad_json")
    assert api(bot, "POST", "/api/seeks", [1, 2]).json()["code"] == "bad_json"
    assert not Seek.objects.exists()
    made = api(bot, "POST", "/api/seeks").json()
    wrong = api(bot, "POST", f"/api/seeks/{made['id']}/cancel", {"token": "guess"})
    assert (wrong.status_code, wrong.json()["code"]) == (403, "bad_token")
    assert Seek.objects.get(pk=made["id"]).status == "waiting"
    unknown = api(bot, "GET", "/api/seeks/ABCDEFGHJKMN")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_seek")


# ----- Public games and the lobby's lists --------------------------------------------


def test_a_public_game_is_an_open_challenge_until_someone_accepts_it():
    creator, private = Client(), Client()
    public_url = creator.post("/games/new", {"time_control": "5+0", "public": "on"}).url
    private.post("/games/new", {"time_control": "5+0"})
    public_id = public_url.strip("/").split("/")[-1]

    lobby = api(Client(), "GET", "/api/lobby").json()
    assert [challenge["id"] for challenge in lobby["challenges"]] == [public_id]
    assert lobby["challenges"][0]["time_control"] == "5+0"
    home = Client().get("/")
    assert f'action="/g/{public_id}/join"'.encode() in home.content

    accepter = Client()
    assert accepter.post(f"/g/{public_id}/join").status_code == 302
    lobby = api(Client(), "GET", "/api/lobby").json()
    assert lobby["challenges"] == []
    assert [game["id"] for game in lobby["games"]] == [public_id]
    assert lobby["games"][0]["spectators"] == 0


def test_the_api_can_list_a_game_publicly_and_checks_the_field():
    made = api(Client(), "POST", "/api/games", {"public": True}).json()
    assert Game.objects.get(pk=made["id"]).public
    refused = api(Client(), "POST", "/api/games", {"public": "yes"})
    assert (refused.status_code, refused.json()["code"]) == (400, "bad_field")


def test_the_lobby_counts_seekers_per_time_control():
    api(Client(REMOTE_ADDR="10.0.0.1"), "POST", "/api/seeks", {"time_control": "3+2"})
    api(Client(REMOTE_ADDR="10.0.0.2"), "POST", "/api/seeks", {"time_control": "10+5"})
    assert api(Client(), "GET", "/api/lobby").json()["seekers"] == {"3+2": 1, "10+5": 1}


def seek_id_of(response) -> str:
    return response.url.strip("/").split("/")[-1]


def test_the_computer_is_offered_once_nobody_came_in_time(settings):
    browser = Client()
    seek_page = play(browser).url
    page = browser.get(seek_page)
    assert seek_config(page)["offerComputerAfterMs"] == 20_000
    assert re.search(rb'id="computer-offer" hidden', page.content), "not offered at once"
    settings.GAME_SEEK_OFFER_COMPUTER_AFTER_SECONDS = 0
    page = browser.get(seek_page)
    assert re.search(rb'id="computer-offer">', page.content), "a page loaded that late offers it at once"
    # The seeker picks the level, a middling one chosen to begin with, and the offer is said once.
    levels = re.findall(rb'<option value="(\d)"( selected)?>\d \xc2\xb7 [^<]+</option>', page.content)
    assert levels == [(b"1", b""), (b"2", b""), (b"3", b" selected"), (b"4", b""), (b"5", b"")]
    assert page.content.count(b"Nobody with this time control has come yet.") == 1
    assert page.content.count(b"play the computer instead") == 1


def test_playing_the_computer_instead_ends_the_seek_and_starts_a_game_with_its_time_control():
    browser = Client()
    seek_id = seek_id_of(play(browser, "5+0"))
    response = browser.post(f"/play/{seek_id}/computer")
    assert response.status_code == 302 and response.url.startswith("/g/")
    assert Seek.objects.get(pk=seek_id).status == "cancelled"
    game = Game.objects.get(pk=response.url.strip("/").split("/")[-1])
    assert (game.status, game.time_control, game.computer_level) == ("playing", "5+0", 3)
    assert game.public  # on the watch list, as the Play now game it stands in for would have been
    seat = client_config(browser.get(response.url))["seat"]
    assert seat in (1, 2) and game.computer_seat == 3 - seat
    # The search is over: its page is gone for this browser.
    assert browser.get(f"/play/{seek_id}/").status_code == 404


def test_the_seeker_plays_the_computer_at_the_level_it_picked():
    browser = Client()
    seek_id = seek_id_of(play(browser, "3+2"))
    response = browser.post(f"/play/{seek_id}/computer", {"level": "5"})
    assert response.status_code == 302 and response.url.startswith("/g/")
    game = Game.objects.get(pk=response.url.strip("/").split("/")[-1])
    assert (game.status, game.time_control, game.computer_level) == ("playing", "3+2", 5)
    assert Seek.objects.get(pk=seek_id).status == "cancelled"


@pytest.mark.parametrize("level", ["0", "6", "three", "", "3.5", "-1", "\u0663"])
def test_a_bad_level_for_the_computer_keeps_the_seek_and_says_why(level):
    browser = Client()
    seek_id = seek_id_of(play(browser))
    response = browser.post(f"/play/{seek_id}/computer", {"level": level})
    assert response.status_code == 400
    assert b"&#x27;level&#x27; must be a whole number from 1 to 5." in response.content
    assert re.search(rb'id="computer-offer">', response.content), "the offer is shown with what was wrong"
    assert Seek.objects.get(pk=seek_id).status == "waiting"
    assert not Game.objects.exists()
    assert browser.get(f"/play/{seek_id}/").status_code == 200  # still this browser's search


def test_a_seeker_paired_before_choosing_the_computer_goes_to_that_game_instead():
    first, second = Client(), Client()
    seek_id = seek_id_of(play(first))
    play(second)  # pairs them
    response = first.post(f"/play/{seek_id}/computer")
    assert response.status_code == 302 and response.url == f"/play/{seek_id}/"
    game_url = first.get(response.url).url
    assert Game.objects.get(pk=game_url.strip("/").split("/")[-1]).computer_seat is None
    assert Game.objects.filter(computer_seat__isnull=False).count() == 0


def test_only_the_seeker_can_swap_its_seek_for_the_computer():
    seek_id = seek_id_of(play(Client()))
    assert Client().post(f"/play/{seek_id}/computer").status_code == 404
    assert Seek.objects.get(pk=seek_id).status == "waiting"
