"""Per-address limits, as a client and an operator see them: real daphne processes, real sockets.

Loopback has a whole /8, so each test speaks from addresses of its own (127.0.0.2, 127.0.0.3...)
and checks that one client's refusals leave another untouched. Behind nginx, the clients are
told apart by X-Forwarded-For, believed because nginx (127.0.0.1) is a trusted proxy there.
"""

import asyncio
import http.client
import json
import os
import re
import signal
import sqlite3
import urllib.parse

import psycopg
import pytest
from django.test import override_settings
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from games.web.limits import client_address
from tests import servers
from tests.servers import Daphne, Nginx, PostgresDatabase, Redis, prepare
from tests.wsclient import close_frame

pytestmark = pytest.mark.timeout(180)


class Response:
    def __init__(self, response: http.client.HTTPResponse):
        self.status, self.headers, self.text = response.status, response.headers, response.read().decode()

    def json(self) -> dict:
        return json.loads(self.text)


def call(base_url: str, path: str, method="POST", source="127.0.0.1", headers=None, body=None) -> Response:
    """One HTTP request from the loopback address ``source``."""
    url = urllib.parse.urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10, source_address=(source, 0))
    try:
        connection.request(method, path, body=body, headers=headers or {})
        return Response(connection.getresponse())
    finally:
        connection.close()


async def open_socket(base_url: str, game_id: str, source="127.0.0.1", headers=None):
    """A socket that said hello: ``(socket, None)`` once welcomed, or ``(None, (code, reason))`` if closed."""
    url = base_url.replace("http", "ws", 1) + f"/ws/games/{game_id}/"
    ws = await connect(url, origin=base_url, open_timeout=10, local_addr=(source, 0), additional_headers=headers)
    try:
        await ws.send('{"type": "hello"}')
        async with asyncio.timeout(10):
            while json.loads(await ws.recv())["type"] != "welcome":
                pass
    except ConnectionClosed:
        return None, await close_frame(ws)
    return ws, None


def assert_rate_limited(response: Response) -> None:
    assert response.status == 429
    assert response.json()["code"] == "rate_limited"
    assert "try again in" in response.json()["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 600


def page_form(base_url: str, path: str, source: str) -> Response:
    """Press a page's button as a browser does: fetch the page for its CSRF cookie, then post the form."""
    page = call(base_url, "/", method="GET", source=source)
    cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return call(
        base_url,
        path,
        source=source,
        body=urllib.parse.urlencode({"csrfmiddlewaretoken": token}),
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded", "Origin": base_url},
    )


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """One process (SQLite, no Redis) with low limits: 5 games, 2 joins and 2 seeks at once per address, 3 sockets."""
    workdir = tmp_path_factory.mktemp("limited")
    env = prepare(
        workdir,
        GAME_CREATE_PER_MINUTE="1",
        GAME_CREATE_BURST="5",
        GAME_JOIN_PER_MINUTE="1",
        GAME_JOIN_BURST="2",
        GAME_SEEK_PER_MINUTE="1",
        GAME_SEEK_BURST="2",
        GAME_MAX_SOCKETS_PER_ADDRESS="3",
    )
    daphne = Daphne(env, workdir / "daphne.log").start()
    try:
        yield daphne, workdir / "db.sqlite3"
    finally:
        daphne.stop()


def games_in(database) -> tuple[int, int]:
    """Games in the database, and how many of them have their second seat taken."""
    with sqlite3.connect(database) as db:
        return db.execute("SELECT COUNT(*), COUNT(NULLIF(seat2_token_hash, '')) FROM games_game").fetchone()


def test_one_address_gets_its_burst_of_games_and_then_429s(limited):
    daphne, database = limited
    before, _ = games_in(database)
    answers = [call(daphne.url, "/api/games", source="127.0.0.2") for _ in range(100)]
    assert [a.status for a in answers].count(201) == 5
    for refused in (a for a in answers if a.status != 201):
        assert_rate_limited(refused)
    # The page's button counts with the API, and says why in words.
    page = page_form(daphne.url, "/games/new", source="127.0.0.2")
    assert page.status == 429 and "Too many new games from your address" in page.text
    # A header from a peer nobody trusts changes nothing.
    assert_rate_limited(call(daphne.url, "/api/games", source="127.0.0.2", headers={"X-Forwarded-For": "198.51.100.1"}))
    # Another address is untouched.
    assert call(daphne.url, "/api/games", source="127.0.0.3").status == 201
    assert games_in(database)[0] == before + 6


def test_seeks_count_against_their_own_limit_on_the_page_and_the_api_together(limited):
    daphne, _ = limited
    pressed = [page_form(daphne.url, "/play", source="127.0.0.6") for _ in range(2)]
    assert [answer.status for answer in pressed] == [302, 302]
    refused = page_form(daphne.url, "/play", source="127.0.0.6")
    assert refused.status == 429 and "Too many searches for an opponent from your address" in refused.text
    assert_rate_limited(call(daphne.url, "/api/seeks", source="127.0.0.6"))
    assert call(daphne.url, "/api/seeks", source="127.0.0.7").status == 201  # another address is untouched


async def test_the_measured_flood_is_refused_at_the_shipped_defaults(tmp_path):
    """The flood the limits were built for, against a server with none of them changed: one
    address asking for 1,000 games gets its burst of 10, and holds at most 200 sockets."""
    env = prepare(tmp_path)
    for name in ("GAME_CREATE_PER_MINUTE", "GAME_CREATE_BURST", "GAME_MAX_SOCKETS_PER_ADDRESS"):
        del env[name]  # the code's own defaults, as a deployment that sets nothing gets them
    daphne = Daphne(env, tmp_path / "daphne.log").start()
    sockets = []
    try:
        answers = [call(daphne.url, "/api/games", source="127.0.0.21") for _ in range(1_000)]
        created = [a for a in answers if a.status == 201]
        assert len(created) == 10
        for refused in (a for a in answers if a.status != 201):
            assert_rate_limited(refused)
        assert games_in(tmp_path / "db.sqlite3")[0] == 10
        game_id = created[0].json()["id"]
        for _ in range(200):
            ws, closed = await open_socket(daphne.url, game_id, source="127.0.0.21")
            assert closed is None
            sockets.append(ws)
        ws, closed = await open_socket(daphne.url, game_id, source="127.0.0.21")
        assert ws is None and closed == (4430, "too many connections")
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))
        daphne.stop()


async def test_joins_are_limited_on_the_api_the_page_and_the_socket(limited):
    daphne, database = limited
    games = [call(daphne.url, "/api/games", source="127.0.0.4").json()["id"] for _ in range(4)]
    _, seated_before = games_in(database)
    assert call(daphne.url, f"/api/games/{games[0]}/join", source="127.0.0.5").status == 200
    assert call(daphne.url, f"/api/games/{games[1]}/join", source="127.0.0.5").status == 200
    assert_rate_limited(call(daphne.url, f"/api/games/{games[2]}/join", source="127.0.0.5"))
    page = page_form(daphne.url, f"/g/{games[2]}/join", source="127.0.0.5")
    assert page.status == 429 and "Too many joins from your address" in page.text
    ws, closed = await open_socket(daphne.url, games[3], source="127.0.0.5")
    assert closed is None
    await ws.send('{"type": "join"}')
    async with asyncio.timeout(10):
        error = json.loads(await ws.recv())
    assert error["type"] == "error" and error["code"] == "rate_limited"
    await ws.close()
    assert games_in(database)[1] == seated_before + 2  # the refused joins took no seat


async def test_an_address_holds_at_most_its_sockets_and_closing_one_frees_a_slot(limited):
    daphne, _ = limited
    game_id = call(daphne.url, "/api/games", source="127.0.0.6").json()["id"]
    held = []
    for _ in range(3):
        ws, closed = await open_socket(daphne.url, game_id, source="127.0.0.7")
        assert closed is None
        held.append(ws)
    try:
        assert (await open_socket(daphne.url, game_id, source="127.0.0.7"))[1] == (4430, "too many connections")
        other, closed = await open_socket(daphne.url, game_id, source="127.0.0.8")  # another address is untouched
        assert closed is None
        await other.close()
        await held.pop().close()
        # The server frees the slot once it has handled the close, a moment after the client saw it.
        async with asyncio.timeout(10):
            while True:
                ws, closed = await open_socket(daphne.url, game_id, source="127.0.0.7")
                if ws is not None:
                    held.append(ws)
                    break
                assert closed == (4430, "too many connections")
    finally:
        await asyncio.gather(*(ws.close() for ws in held))


@override_settings(GAME_TRUSTED_PROXIES=[])
def test_the_forwarded_header_of_an_untrusted_peer_is_ignored():
    scope = {"client": ("203.0.113.5", 40000), "headers": [(b"x-forwarded-for", b"198.51.100.1")]}
    assert client_address(scope) == "203.0.113.5"


@override_settings(GAME_TRUSTED_PROXIES=["10.0.0.0/8", "127.0.0.1"])
def test_the_client_behind_trusted_proxies_is_the_first_address_they_do_not_vouch_for():
    def address(forwarded: bytes, peer="127.0.0.1") -> str:
        return client_address({"client": (peer, 1), "headers": [(b"x-forwarded-for", forwarded)]})

    # What the client wrote itself (left) is never believed past the hop nginx added.
    assert address(b"198.51.100.1, 203.0.113.9") == "203.0.113.9"
    assert address(b"203.0.113.9, 10.1.2.3") == "203.0.113.9"  # through a second, trusted proxy
    assert address(b"not-an-address, 10.1.2.3") == "10.1.2.3"
    assert address(b"198.51.100.1", peer="192.0.2.1") == "192.0.2.1"  # not a trusted proxy
    assert client_address({"client": ("127.0.0.1", 1), "headers": []}) == "127.0.0.1"


async def test_two_processes_behind_nginx_share_each_address_quota(tmp_path):
    """Round-robin sends one address's calls and sockets to both processes; Redis counts them once."""
    servers.require_shared_services()
    database = PostgresDatabase(f"limits_{os.getpid()}").create()
    redis = Redis(tmp_path).start()
    daphnes, nginx = [], None
    try:
        env = prepare(
            tmp_path,
            DATABASE_URL=database.url,
            REDIS_URL=redis.url,
            GAME_TRUSTED_PROXIES="127.0.0.1",
            GAME_CREATE_PER_MINUTE="1",
            GAME_CREATE_BURST="6",
            GAME_MAX_SOCKETS_PER_ADDRESS="4",
            GAME_SERVER_TIMEOUT_SECONDS="3",  # a killed process's sockets stop counting after this long
            GAME_SWEEP_INTERVAL_SECONDS="0.5",
        )
        daphnes = [Daphne(env, tmp_path / f"daphne-{i}.log").start() for i in range(2)]
        nginx = Nginx(tmp_path, [d.port for d in daphnes]).start()
        client = {"X-Forwarded-For": "203.0.113.7"}
        answers = [call(nginx.url, "/api/games", headers=client) for _ in range(30)]
        assert [a.status for a in answers].count(201) == 6  # each process alone would have let 6 through
        for refused in (a for a in answers if a.status != 201):
            assert_rate_limited(refused)
        # Straight to each process, from the trusted proxy's address: still the same client.
        for daphne in daphnes:
            assert_rate_limited(call(daphne.url, "/api/games", headers=client))
        assert call(nginx.url, "/api/games", headers={"X-Forwarded-For": "203.0.113.8"}).status == 201
        with psycopg.connect(database.url) as db:
            assert db.execute("SELECT COUNT(*) FROM games_game").fetchone()[0] == 7

        game_id = next(a.json()["id"] for a in answers if a.status == 201)
        # Sockets of one client, two on each process (straight from the trusted proxy's address).
        watcher = {"X-Forwarded-For": "203.0.113.9"}
        held = []
        try:
            for daphne in daphnes * 2:
                ws, closed = await open_socket(daphne.url, game_id, headers=watcher)
                assert closed is None
                held.append(ws)
            for daphne in daphnes:
                assert (await open_socket(daphne.url, game_id, headers=watcher))[1] == (4430, "too many connections")
            # A killed process leaves no phantom sockets: once it has missed its beats, its two slots are free.
            daphnes[0].stop(signal.SIGKILL)
            survivor, reopened = daphnes[1], 0
            async with asyncio.timeout(30):
                while reopened < 2:
                    ws, closed = await open_socket(survivor.url, game_id, headers=watcher)
                    if ws is None:
                        assert closed == (4430, "too many connections")
                        await asyncio.sleep(0.2)  # waiting for an expiry: nothing to await from outside
                    else:
                        held.append(ws)
                        reopened += 1
            assert (await open_socket(survivor.url, game_id, headers=watcher))[1] == (4430, "too many connections")
        finally:
            await asyncio.gather(*(ws.close() for ws in held))
    finally:
        if nginx is not None:
            nginx.stop()
        for daphne in daphnes:
            daphne.stop()
        redis.stop()
        database.drop()
