"""A bot's creating calls sent again after an error or a lost answer, with an ``Idempotency-Key``:
the retry answers with what the first call made, and never makes a second game, seek or seat.
Through the real views and the real database; the race between two copies of one call goes
through the whole ASGI application at once."""

import asyncio
import json

import pytest
from channels.testing import HttpCommunicator
from django.test import Client

from config.asgi import application
from games.core.identity import hash_token
from games.models import Game, RequestKey, Seek

pytestmark = pytest.mark.django_db(transaction=True)

REPLAYED = "Idempotent-Replayed"


def post(client: Client, path: str, body: dict | None = None, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    data = json.dumps(body) if body is not None else ""
    return client.post(path, data, content_type="application/json", **headers)


@pytest.mark.parametrize(
    "body",
    [
        {"time_control": "3+2", "seat": "random"},
        {"opponent": "computer", "level": 2, "seat": "random", "public": True},
    ],
    ids=["friend", "computer"],
)
def test_a_create_sent_again_with_its_key_answers_with_the_same_game(body):
    bot = Client(REMOTE_ADDR="10.0.0.7")
    first = post(bot, "/api/games", body, key="create-1")
    assert first.status_code == 201 and REPLAYED not in first.headers
    again = post(bot, "/api/games", body, key="create-1")
    assert again.status_code == 201 and again.headers[REPLAYED] == "true"
    assert again.json() == first.json()  # the same game, the same seat (drawn once) and token
    game = Game.objects.get()
    assert game.token_hash(first.json()["seat"]) == hash_token(first.json()["token"])
    # Another key is another call: a second game.
    assert post(bot, "/api/games", body, key="create-2").json()["id"] != game.id
    assert Game.objects.count() == 2


def test_the_same_key_with_another_body_is_refused_and_makes_nothing():
    bot = Client(REMOTE_ADDR="10.0.0.8")
    assert post(bot, "/api/games", {"time_control": "3+2"}, key="k").status_code == 201
    refused = post(bot, "/api/games", {"time_control": "5+0"}, key="k")
    assert refused.status_code == 422
    assert refused.json()["code"] == "idempotency_key_reused"
    assert Game.objects.count() == 1


def test_a_key_belongs_to_one_address():
    body = {"time_control": "1+0"}
    one = post(Client(REMOTE_ADDR="10.0.0.9"), "/api/games", body, key="shared")
    other = post(Client(REMOTE_ADDR="10.0.0.10"), "/api/games", body, key="shared")
    assert one.status_code == other.status_code == 201
    assert one.json()["id"] != other.json()["id"] and one.json()["token"] != other.json()["token"]


@pytest.mark.parametrize("key", ["", "x" * 256, "clé"], ids=["empty", "too long", "not ascii"])
def test_a_bad_key_is_refused_before_anything_is_made(key):
    bot = Client(REMOTE_ADDR="10.0.0.11")
    for path in ("/api/games", "/api/seeks"):
        refused = post(bot, path, {}, key=key)
        assert refused.status_code == 400, path
        assert refused.json()["code"] == "bad_idempotency_key", path
    game_id = post(bot, "/api/games").json()["id"]
    refused = post(bot, f"/api/games/{game_id}/join", key=key)
    assert refused.status_code == 400 and refused.json()["code"] == "bad_idempotency_key"
    assert Game.objects.count() == 1 and not Seek.objects.exists() and not RequestKey.objects.exists()
    assert Game.objects.get().status == "waiting"


def test_a_seek_sent_again_with_its_key_is_the_same_seek_even_once_paired():
    bot = Client(REMOTE_ADDR="10.0.0.12")
    first = post(bot, "/api/seeks", {"time_control": "5+0"}, key="seek-1")
    assert first.status_code == 201 and first.json()["status"] == "waiting"
    again = post(bot, "/api/seeks", {"time_control": "5+0"}, key="seek-1")
    assert again.status_code == 201 and again.headers[REPLAYED] == "true"
    assert (again.json()["id"], again.json()["token"]) == (first.json()["id"], first.json()["token"])
    # Without its key, the same call is the second seek the one-per-address rule refuses.
    refused = post(bot, "/api/seeks", {"time_control": "5+0"})
    assert refused.status_code == 409 and refused.json()["seek_id"] == first.json()["id"]
    # Someone comes; the bot, never having seen an answer, sends its call once more: it is told
    # its seek was paired, with the game and the token that is now its seat's.
    post(Client(REMOTE_ADDR="10.0.0.13"), "/api/seeks", {"time_control": "5+0"})
    paired = post(bot, "/api/seeks", {"time_control": "5+0"}, key="seek-1").json()
    assert paired["status"] == "paired" and paired["token"] == first.json()["token"]
    game = Game.objects.get(pk=paired["game"]["id"])
    assert game.token_hash(paired["game"]["seat"]) == hash_token(paired["token"])
    assert Seek.objects.count() == 2


def test_a_join_sent_again_with_its_key_finds_the_seat_it_took():
    game_id = post(Client(REMOTE_ADDR="10.0.0.14"), "/api/games").json()["id"]
    bot = Client(REMOTE_ADDR="10.0.0.15")
    first = post(bot, f"/api/games/{game_id}/join", key="join-1")
    assert first.status_code == 200 and first.json()["seat"] == 2
    again = post(bot, f"/api/games/{game_id}/join", key="join-1")
    assert again.status_code == 200
    assert (again.json()["seat"], again.json()["token"]) == (2, first.json()["token"])
    # Another key is another joiner: the seat is taken.
    taken = post(bot, f"/api/games/{game_id}/join", key="join-2")
    assert taken.status_code == 409 and taken.json()["code"] == "seat_taken"
    assert Game.objects.get().seq == 2  # created, joined: one join


async def test_two_copies_of_one_call_at_once_make_one_game():
    """A bot that sends the same call twice at once (a retry that overtook the first): both
    answers name the one game, whichever committed."""
    headers = [
        (b"host", b"testserver"),
        (b"content-type", b"application/json"),
        (b"idempotency-key", b"race"),
    ]
    body = json.dumps({"time_control": "3+2"}).encode()

    async def call():
        communicator = HttpCommunicator(application, "POST", "/api/games", body=body, headers=headers)
        answer = await communicator.get_response()
        await communicator.wait()
        return answer

    answers = await asyncio.gather(*(call() for _ in range(4)))
    assert [answer["status"] for answer in answers] == [201] * 4
    ids = {json.loads(answer["body"])["id"] for answer in answers}
    assert len(ids) == 1
    assert await Game.objects.acount() == 1
