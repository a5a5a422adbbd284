"""/metrics: the numbers move by what happened, only allowed clients read them, and with several
processes sharing a metrics directory any one of them answers for all."""

import json

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from config.asgi import application
from games.live import registry
from tests.conftest import ORIGIN

pytestmark = pytest.mark.django_db(transaction=True)

LOOPBACK = ("127.0.0.1", 40000)
RED_WINS = [0, 1, 0, 1, 0, 1, 0]  # red's four in column 0, on the seventh move


def parse(text: str) -> dict[tuple, float]:
    """Samples as {(name, sorted labels): value}."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def http(method: str, path: str, client=LOOPBACK, headers=()) -> tuple[int, bytes]:
    """One request through the real ASGI application (the lean handler, for these paths)."""
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"localhost"), ORIGIN, *headers],
        "client": client,
        "server": ("127.0.0.1", 8000),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(5)
    body = b""
    while True:
        part = await communicator.receive_output(5)
        body += part.get("body", b"")
        if not part.get("more_body"):
            break
    await communicator.wait(5)
    return start["status"], body


async def scrape() -> dict[tuple, float]:
    status, body = await http("GET", "/metrics")
    assert status == 200
    return parse(body.decode())


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def change(before: dict, after: dict, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_a_game_played_through_the_app_moves_each_metric_by_what_happened(sockets):
    before = await scrape()
    status, body = await http("POST", "/api/games")
    assert status == 201
    created = json.loads(body)
    red = await sockets(created["id"])
    await red.hello(token=created["token"])
    yellow = await sockets(created["id"])
    await yellow.hello()
    await yellow.send(type="join")
    await yellow.receive_type("seated")
    for socket in (red, yellow):
        await socket.receive_type("joined")
    watcher = await sockets(created["id"])
    await watcher.hello()
    await yellow.send(type="move", column=3)  # not yellow's turn: an error for yellow alone
    assert (await yellow.receive_type("error"))["code"] == "not_your_turn"

    during = await scrape()
    assert value(during, "game_open_sockets") == value(before, "game_open_sockets") + 3
    assert value(during, "game_games_in_memory") == value(before, "game_games_in_memory") + 1

    for i, column in enumerate(RED_WINS):
        mover = red if i % 2 == 0 else yellow
        await mover.send(type="move", column=column)
        await mover.receive_type("ack")
        for socket in (red, yellow, watcher):
            await socket.receive_type("move")
    for socket in (red, yellow, watcher):
        await socket.close()
    after = await scrape()

    def grew(name: str, **labels) -> float:
        return change(before, after, name, **labels)

    assert grew("game_games_created_total") == 1
    assert grew("game_games_started_total") == 1
    assert grew("game_moves_committed_total") == len(RED_WINS)
    assert grew("game_games_finished_total", result="win") == 1
    assert grew("game_games_finished_total", result="draw") == 0
    assert grew("game_errors_sent_total", code="not_your_turn") == 1
    assert grew("game_move_broadcast_seconds_count") == len(RED_WINS)
    # The join and every move went through the journal's group commit, in one to eight groups.
    assert grew("game_journal_batch_size_sum") == 1 + len(RED_WINS)
    assert 1 <= grew("game_commit_seconds_count") <= 1 + len(RED_WINS)
    assert grew("game_commit_seconds_sum") > 0
    assert value(after, "game_open_sockets") == value(before, "game_open_sockets")


async def test_frames_over_the_rate_limit_count_as_refusals(sockets, settings):
    settings.GAME_RATE_PER_SECOND, settings.GAME_RATE_BURST = 0.001, 2
    before = await scrape()
    status, body = await http("POST", "/api/games")
    socket = await sockets(json.loads(body)["id"])
    for _ in range(3):
        await socket.send(type="ping")
    await socket.receive_type("pong")
    await socket.receive_type("pong")
    assert (await socket.receive_type("error"))["code"] == "rate_limited"
    after = await scrape()
    assert change(before, after, "game_refusals_total", kind="socket_rate") == 1
    assert change(before, after, "game_errors_sent_total", code="rate_limited") == 1


async def test_calls_over_an_address_limit_count_as_refusals(settings):
    settings.GAME_CREATE_PER_MINUTE, settings.GAME_CREATE_BURST = 1, 2
    before = await scrape()
    statuses = [(await http("POST", "/api/games", client=("127.0.0.9", 50000)))[0] for _ in range(5)]
    after = await scrape()
    assert statuses == [201, 201, 429, 429, 429]
    assert change(before, after, "game_refusals_total", kind="create") == 3
    assert change(before, after, "game_games_created_total") == 2


async def test_metrics_go_through_the_lean_handler_and_hide_from_strangers():
    assert (await http("GET", "/metrics"))[0] == 200
    assert (await http("GET", "/metrics", client=("203.0.113.9", 40000)))[0] == 404
    # Through a proxy the address cannot be trusted, whatever it says.
    assert (await http("GET", "/metrics", headers=[(b"x-forwarded-for", b"127.0.0.1")]))[0] == 404


def test_only_listed_networks_or_the_token_may_read_the_metrics(settings):
    client = Client()
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 404

    settings.GAME_METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404

    settings.GAME_METRICS_TOKEN = "a-long-scrape-token"
    stranger = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}
    assert client.get("/metrics", **stranger).status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **stranger).status_code == 404
    answer = client.get("/metrics", HTTP_AUTHORIZATION="Bearer a-long-scrape-token", **stranger)
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain")
    assert b"game_open_sockets" in answer.content


async def test_a_broadcast_the_channel_layer_refuses_is_counted(monkeypatch):
    async def down(group, message):
        raise OSError("the layer is down")

    monkeypatch.setattr(get_channel_layer(), "group_send", down)
    before = await scrape()
    game_id, _ = await registry.create_game()
    await registry.join(game_id)  # committed all the same; the sweeper's heal tells the sockets later
    after = await scrape()
    assert change(before, after, "game_channel_layer_failures_total", where="broadcast") == 1
    assert change(before, after, "game_games_started_total") == 1
