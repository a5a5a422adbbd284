"""The lobby's live lists over /ws/lobby/: pushed when they change, through the real ASGI
application, channel layer and database."""

import pytest
from channels.testing import WebsocketCommunicator
from django.test import AsyncClient

from config.asgi import application
from games.live import registry, seeking
from tests.conftest import ORIGIN
from tests.test_views import client_config

pytestmark = pytest.mark.django_db(transaction=True)


class Lobby:
    def __init__(self):
        self.communicator = WebsocketCommunicator(application, "/ws/lobby/", headers=[ORIGIN])

    async def open(self):
        assert (await self.communicator.connect())[0]
        return await self.receive()

    async def receive(self, timeout=3):
        message = await self.communicator.receive_json_from(timeout=timeout)
        assert message["type"] == "lobby"
        return message

    async def until(self, condition, timeout=3):
        """The next lists for which ``condition`` holds (a burst of changes may take two pushes)."""
        while not condition(lists := await self.receive(timeout)):
            pass
        return lists


@pytest.fixture
async def lobby():
    watcher = Lobby()
    yield watcher
    await watcher.communicator.disconnect()


async def test_a_public_challenge_appears_then_moves_to_the_games_being_played(lobby, sockets):
    first = await lobby.open()
    assert (first["challenges"], first["games"], first["seekers"]) == ([], [], {})

    private_id, _ = await registry.create_game()
    game_id, token = await registry.create_game(public=True)
    lists = await lobby.until(lambda lists: lists["challenges"])
    assert [challenge["id"] for challenge in lists["challenges"]] == [game_id]  # the private one never shows
    assert lists["as_of"] > first["as_of"]

    await registry.join(private_id)  # an invite in play stays private: never on the watch list
    await registry.join(game_id)
    lists = await lobby.until(lambda lists: lists["games"])
    assert lists["challenges"] == []
    assert lists["games"] == [
        {
            "id": game_id,
            "time_control": "",
            "started_at": lists["games"][0]["started_at"],
            "spectators": 0,
            "computer": None,
        }
    ]

    watcher = await sockets(game_id)
    await watcher.hello()
    lists = await lobby.until(lambda lists: lists["games"][0]["spectators"] == 1)
    assert private_id not in [game["id"] for game in lists["games"]]

    await registry.resign(game_id, 1)
    lists = await lobby.until(lambda lists: not lists["games"])


async def test_a_public_game_against_the_computer_is_listed_to_watch_and_any_one_can_be_watched(lobby, sockets):
    await lobby.open()
    home = await AsyncClient().get("/")
    assert b'id="computer-public" name="public" checked' in home.content  # the form makes it public
    browser = AsyncClient()
    public = await browser.post("/computer", {"level": "2", "seat": "1", "time_control": "3+2", "public": "on"})
    private = await browser.post("/computer", {"level": "2", "seat": "1"})  # the box unticked: not sent
    public_id, private_id = (response.url.split("/")[2] for response in (public, private))
    lists = await lobby.until(lambda lists: lists["games"])
    assert [game["id"] for game in lists["games"]] == [public_id]
    assert lists["games"][0]["computer"] == {"seat": 2, "level": 2, "name": "Casual"}
    assert lists["games"][0]["time_control"] == "3+2"

    # Both watch links work: a stranger watches, offered no seat (nobody can take the computer's).
    for game_id in (public_id, private_id):
        page = await AsyncClient().get(f"/g/{game_id}/watch")
        assert page.status_code == 200 and client_config(page)["seat"] is None
        assert b'id="join-button"' not in page.content
        watcher = await sockets(game_id)
        welcome = await watcher.hello()
        assert (welcome["seat"], welcome["game"]["status"]) == (None, "playing")
        assert welcome["game"]["computer"] == {"seat": 2, "level": 2, "name": "Casual"}
    lists = await lobby.until(lambda lists: lists["games"][0]["spectators"] == 1)
    listed = await AsyncClient().get("/")
    assert "Against the computer, level 2 · 1 watching".encode() in listed.content

    # A bot's game against the computer is private unless it asks.
    api = AsyncClient()
    shown = await api.post("/api/games", {"opponent": "computer", "seat": 1, "public": True}, "application/json")
    hidden = await api.post("/api/games", {"opponent": "computer", "seat": 1}, "application/json")
    refused = await api.post("/api/games", {"opponent": "computer", "public": "yes"}, "application/json")
    assert (shown.status_code, hidden.status_code, refused.status_code) == (201, 201, 400)
    assert refused.json()["code"] == "bad_field"
    lists = await lobby.until(lambda lists: len(lists["games"]) == 2)
    assert {game["id"] for game in lists["games"]} == {public_id, shown.json()["id"]}


async def test_seekers_waiting_are_counted_per_time_control(lobby):
    await lobby.open()
    await seeking.create("bot:a", "127.0.0.1", "3+2", replace=False)
    lists = await lobby.until(lambda lists: lists["seekers"])
    assert lists["seekers"] == {"3+2": 1}
    await seeking.create("bot:b", "127.0.0.1", "3+2", replace=False)  # paired: nobody waits
    lists = await lobby.until(lambda lists: not lists["seekers"])
    assert len(lists["games"]) == 1  # strangers paired by Play now can be watched


async def test_the_lobby_socket_refuses_bad_input_and_stays_open(lobby):
    await lobby.open()
    for raw, code in (("nope", "bad_json"), ('{"type": "lobby.lists"}', "unknown_type"), ("[1]", "not_object")):
        await lobby.communicator.send_to(text_data=raw)
        error = await lobby.communicator.receive_json_from(timeout=3)
        assert (error["type"], error["code"]) == ("error", code)
    await lobby.communicator.send_json_to({"type": "ping"})
    assert await lobby.communicator.receive_json_from(timeout=3) == {"type": "pong"}


async def test_a_lobby_socket_is_kept_up_to_date_while_the_layer_is_down(lobby, monkeypatch):
    """Pushes go over the channel layer. With it down, this process hands its own lobby sockets the
    lists directly; a change made elsewhere (another process, whose push never arrived) reaches
    them at the next refresh from the database."""
    from channels.layers import get_channel_layer

    from games.live import lobby as lobby_lists
    from games.storage import store

    await lobby.open()
    layer = get_channel_layer()

    async def down(group, message):
        raise OSError("the channel layer is down (injected)")

    monkeypatch.setattr(layer, "group_send", down)
    here_id, _ = await registry.create_game(public=True)  # pushed from this process: told directly
    lists = await lobby.until(lambda lists: lists["challenges"])
    assert [challenge["id"] for challenge in lists["challenges"]] == [here_id]

    # Another process's public game: its push was lost with the layer; the refresh finds it.
    elsewhere_id, _ = await store_game(store)
    monkeypatch.setattr(lobby_lists, "REFRESH_SECONDS", 0)
    await lobby_lists.refresh_here()
    lists = await lobby.until(lambda lists: len(lists["challenges"]) == 2)
    assert {challenge["id"] for challenge in lists["challenges"]} == {here_id, elsewhere_id}
    await lobby_lists.refresh_here()  # nothing changed since: nothing is sent again
    assert await lobby.communicator.receive_nothing(timeout=0.2)


async def store_game(store):
    """A public game written as another process would write it: straight to the database."""
    from games.storage import journal

    return await journal.run(store.create_game, "connect4", None, True)
