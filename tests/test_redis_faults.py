"""A Redis that hangs (stopped with SIGSTOP, as a frozen host or a network dropping packets would
leave it) must not hang the server: every call to it gives up after REDIS_TIMEOUT_SECONDS.

A real daphne on a private redis-server; the database (SQLite here) keeps working throughout.
"""

import asyncio
import contextlib
import json
import os
import shutil
import signal
import urllib.request

import pytest
from websockets.asyncio.client import connect

from tests import servers
from tests.servers import Daphne, PostgresDatabase, Redis, prepare
from tests.wsclient import Player, Seeker, api, new_table, post_from

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def frozen_redis_server(tmp_path):
    """A daphne on its own redis-server, and a way to stop and resume that Redis."""
    servers.require(bool(shutil.which("redis-server")), "redis-server is not installed")
    redis = Redis(tmp_path).start()
    env = prepare(tmp_path, REDIS_URL=redis.url, REDIS_TIMEOUT_SECONDS=str(REDIS_TIMEOUT))
    daphne = Daphne(env, tmp_path / "daphne.log").start()
    stopped = []

    def freeze():
        os.kill(redis.process.pid, signal.SIGSTOP)
        stopped.append(True)

    try:
        yield daphne, freeze
    finally:
        if stopped:
            os.kill(redis.process.pid, signal.SIGCONT)
        daphne.stop()
        redis.stop()


# Long enough that a call waiting out the timeout cannot be mistaken for one that did not wait.
REDIS_TIMEOUT = 4


async def test_a_frozen_redis_answers_new_sockets_and_acks_instead_of_hanging(frozen_redis_server):
    daphne, freeze = frozen_redis_server
    red, yellow = await new_table(daphne.url)
    await red.move(3)
    await yellow.receive("move")
    freeze()
    loop = asyncio.get_running_loop()

    # The first move committed while Redis is frozen is acknowledged at once: the ack goes out
    # before the broadcast, which waits out one Redis timeout; Red, on this process, is shown the
    # move once the broadcast has given up (not when Redis wakes).
    started = loop.time()
    await yellow.send({"type": "move", "column": 2, "move_id": "yellow-while-frozen"})
    ack = await yellow.receive("ack", timeout=3 * REDIS_TIMEOUT)
    assert ack["move_id"] == "yellow-while-frozen" and ack["duplicate"] is False
    assert loop.time() - started < REDIS_TIMEOUT
    await event_numbered(red, ack["seq"], timeout=3 * REDIS_TIMEOUT)

    # From then on Redis is taken for down: nothing waits for it. Acks come at once, and new
    # sockets are answered at once (before, each handshake waited out the socket count's call to
    # Redis, and moves' acks a timeout each).
    started = loop.time()
    await red.send({"type": "move", "column": 3, "move_id": "red-while-frozen"})
    ack = await red.receive("ack")
    assert ack["move_id"] == "red-while-frozen"
    await event_numbered(yellow, ack["seq"])
    assert loop.time() - started < REDIS_TIMEOUT
    for _ in range(3):
        game = api(daphne.url, "/api/games")
        newcomer = Player(daphne.url, game["id"], game["token"])
        started = loop.time()
        try:
            welcome = await asyncio.wait_for(newcomer.connect(), 3 * REDIS_TIMEOUT)
            assert welcome["seat"] == 1  # the database still works: a welcome, not 1012
        finally:
            if newcomer.ws is not None:
                await newcomer.ws.close()
        assert loop.time() - started < REDIS_TIMEOUT
    await red.close()
    await yellow.close()


def create_timed(base_url: str, time_control: str) -> dict:
    body = json.dumps({"time_control": time_control}).encode()
    request = urllib.request.Request(
        base_url + "/api/games", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


async def event_numbered(player: Player, seq: int, timeout: float = 8) -> dict:
    """Read ``player``'s socket up to the event ``seq`` (every event before it is checked in order)."""
    async with asyncio.timeout(timeout):
        while player.seq < seq:
            await player.receive()
    return player.events[-1] if player.events[-1]["seq"] == seq else next(e for e in player.events if e["seq"] == seq)


async def first_moves_across(a: Daphne, b: Daphne, created: dict) -> tuple[Player, Player]:
    """Red (the creator) on process ``a``, Yellow (who joins) on ``b``, both connected, and the
    first two moves played and seen by the other."""
    joined = api(b.url, f"/api/games/{created['id']}/join")
    red = Player(a.url, created["id"], created["token"])
    yellow = Player(b.url, created["id"], joined["token"])
    await red.connect()
    await yellow.connect()
    for mover, other in ((red, yellow), (yellow, red)):
        answer = await mover.move()
        assert answer["type"] == "ack", answer
        await event_numbered(other, answer["seq"])
    return red, yellow


@contextlib.contextmanager
def two_daphnes(tmp_path, name: str, **env: str):
    """Two daphnes on one Redis and one PostgreSQL database of their own, as docs/deploy.md runs
    them, with ``env`` on top of the production settings; yields (daphnes, redis)."""
    servers.require_shared_services(nginx=False)
    database = PostgresDatabase(f"{name}_{os.getpid()}").create()
    redis = Redis(tmp_path).start()
    daphnes = []
    try:
        prepared = prepare(tmp_path, DATABASE_URL=database.url, REDIS_URL=redis.url, **env)
        daphnes = [Daphne(prepared, tmp_path / f"daphne-{i}.log").start() for i in range(2)]
        yield daphnes, redis
    finally:
        for daphne in daphnes:
            daphne.stop()
        redis.stop()
        database.drop()


@pytest.fixture
def two_processes(tmp_path):
    with two_daphnes(
        tmp_path,
        "redis_faults",
        GAME_SWEEP_INTERVAL_SECONDS="1",
        GAME_EXTRA_TIME_CONTROLS="12s+0",
        GAME_FIRST_MOVE_SECONDS="20",
        # A sweep comes any time within its second: every move the layer fails to deliver is given back.
        GAME_LATE_DELIVERY_CREDIT_SECONDS="0.001",
    ) as deployment:
        yield deployment


async def test_with_redis_down_a_move_reaches_the_other_process_and_its_delay_is_given_back(two_processes):
    """Red plays on one process, Yellow on the other, 12 s clocks. Redis goes away: Red's move is
    committed and acknowledged, reaches Yellow from the log (the other process's heal), and the
    seconds Yellow spent not seeing it come back as a clock_credit, so Yellow does not lose on time."""
    (a, b), redis = two_processes
    red, yellow = await first_moves_across(a, b, create_timed(a.url, "12s+0"))  # from now on the clocks run

    redis.stop()
    ack = await red.move()
    assert ack["type"] == "ack", ack
    move = await event_numbered(yellow, ack["seq"])  # from the log, while Redis stays down
    assert move["type"] == "move" and move["seat"] == 1
    credit = await yellow.receive("clock_credit", timeout=8)
    given = credit["given_back_ms"]["2"]
    assert 0 < given < 3000 and credit["given_back_ms"]["1"] == 0
    assert credit["outage_from"] == move["at"]  # the credit runs from the move's commit to its delivery
    # Yellow answers; Red, on the other process, sees it from the log too; nobody lost on time.
    answered = await yellow.move()
    assert answered["type"] == "ack", answered
    answer = await event_numbered(red, answered["seq"])
    assert (answer["type"], answer["seat"], answer["status"]) == ("move", 2, "playing")
    redis.start()
    await red.close()
    await yellow.close()


async def test_with_redis_down_play_now_pairs_across_processes_and_both_seekers_play(two_processes):
    """A seeker waits on one process; Redis dies; a bot seeks on the other. The bot's answer is a
    201 with its game (never an error: the pairing is committed), the waiting seeker hears it was
    paired from its own process reading the database, and the game is played, not lost."""
    (a, b), redis = two_processes
    waiting = Seeker(a.url, "127.0.0.2")
    await waiting.create()
    assert (await waiting.connect())["type"] == "seeking"

    redis.stop()
    status, bot_seek = await post_from(b.url, "/api/seeks", "127.0.0.3", {"time_control": "3+2"})
    assert status == 201, bot_seek
    assert bot_seek["status"] == "paired"
    game = bot_seek["game"]
    paired = await waiting.until_paired(timeout=10)
    assert paired["game_id"] == game["id"] and {paired["seat"], game["seat"]} == {1, 2}

    seeker_player = Player(a.url, game["id"], paired["token"])
    bot_player = Player(b.url, game["id"], bot_seek["token"])
    await seeker_player.connect()
    await bot_player.connect()
    red, yellow = (seeker_player, bot_player) if paired["seat"] == 1 else (bot_player, seeker_player)
    for mover, other in ((red, yellow), (yellow, red)):
        ack = await mover.move()
        assert ack["type"] == "ack", ack
        move = await event_numbered(other, ack["seq"])
        assert move["type"] == "move" and move["status"] == "playing"
    redis.start()
    await waiting.close()
    await red.close()
    await yellow.close()


@pytest.fixture
def two_processes_slow_sweeps(tmp_path):
    """Sweeping only every 30 s: whatever reaches a socket sooner did not come from a sweep."""
    with two_daphnes(
        tmp_path,
        "redis_watch",
        GAME_SWEEP_INTERVAL_SECONDS=str(SLOW_SWEEP),
        GAME_SERVER_TIMEOUT_SECONDS="300",  # heartbeats come as seldom as sweeps
    ) as deployment:
        yield deployment


SLOW_SWEEP = 30


async def test_with_redis_gone_each_process_notices_and_reads_the_log_of_its_games_at_once(two_processes_slow_sweeps):
    """Redis dies between two moves. The process with Yellow's socket has nothing to send, yet it
    notices (it pings Redis every second) and, while Redis stays down, reads its games' log several
    times a second: Red's move, committed on the other process, reaches Yellow long before any sweep."""
    (a, b), redis = two_processes_slow_sweeps
    red, yellow = await first_moves_across(a, b, api(a.url, "/api/games"))

    redis.stop()
    loop = asyncio.get_running_loop()
    started = loop.time()
    ack = await red.move()
    assert ack["type"] == "ack", ack
    move = await event_numbered(yellow, ack["seq"], timeout=SLOW_SWEEP)
    assert move["type"] == "move" and move["seat"] == 1
    assert loop.time() - started < SLOW_SWEEP / 3, "it waited for a sweep"
    # And back: Yellow's answer reaches Red (whose process also took Redis for down) the same way.
    answered = await yellow.move()
    started = loop.time()
    await event_numbered(red, answered["seq"], timeout=SLOW_SWEEP)
    assert loop.time() - started < SLOW_SWEEP / 3, "it waited for a sweep"
    redis.start()
    await red.close()
    await yellow.close()


async def ready(base_url: str, timeout: float = 15) -> None:
    """Wait until the process says it reaches its database and its channel layer (``/readyz``)."""

    def status() -> int:
        try:
            with urllib.request.urlopen(base_url + "/readyz", timeout=5) as response:
                return response.status
        except OSError:  # 503 (urllib raises it as an HTTPError) or not answering yet
            return 0

    async with asyncio.timeout(timeout):
        while True:  # a poll of the documented endpoint: there is no event to await
            if await asyncio.to_thread(status) == 200:
                return
            await asyncio.sleep(0.1)


async def test_sockets_opened_while_redis_is_down_are_played_and_get_the_layer_back_with_it(two_processes_slow_sweeps):
    """Both players connect while Redis is down: they are welcomed (not sent away with 1012) and
    play from the log. When Redis is back, their sockets' group memberships are made at Redis, so
    moves travel over the layer again: faster than any sweep, the outage watch being over."""
    (a, b), redis = two_processes_slow_sweeps
    created = api(a.url, "/api/games")
    redis.stop()
    joined = api(b.url, f"/api/games/{created['id']}/join")
    red = Player(a.url, created["id"], created["token"])
    yellow = Player(b.url, created["id"], joined["token"])
    assert (await red.connect())["type"] == "welcome"
    assert (await yellow.connect())["type"] == "welcome"
    loop = asyncio.get_running_loop()
    for mover, other in ((red, yellow), (yellow, red)):
        ack = await mover.move()
        assert ack["type"] == "ack", ack
        await event_numbered(other, ack["seq"], timeout=SLOW_SWEEP)

    redis.start()
    await ready(a.url)
    await ready(b.url)
    for mover, other in ((red, yellow), (yellow, red)):
        started = loop.time()
        ack = await mover.move()
        await event_numbered(other, ack["seq"], timeout=SLOW_SWEEP)
        assert loop.time() - started < SLOW_SWEEP / 3, "it waited for a sweep"
    await red.close()
    await yellow.close()


async def lobby_lists_until(ws, holds, timeout: float = 15) -> dict:
    """Read the lobby socket's messages until its lists satisfy ``holds``; those lists."""
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "lobby" and holds(message):
                return message


async def test_a_lobby_socket_open_through_a_redis_outage_is_kept_up_to_date(two_processes):
    """A lobby socket on one process stays open while Redis is gone: challenges made on the other
    process reach it from the database (each process refreshes its own lobby sockets), during the
    outage and after Redis is back."""
    (a, b), redis = two_processes
    lobby = await connect(a.url.replace("http", "ws", 1) + "/ws/lobby/", origin=a.url, open_timeout=10)
    try:
        await lobby_lists_until(lobby, lambda lists: True)  # the lists as they stand
        redis.stop()
        during = create_public(b.url)
        lists = await lobby_lists_until(lobby, lambda lists: during in challenge_ids(lists))
        assert challenge_ids(lists) == [during]
        redis.start()
        after = create_public(b.url)
        lists = await lobby_lists_until(lobby, lambda lists: after in challenge_ids(lists))
        assert set(challenge_ids(lists)) == {during, after}
    finally:
        await lobby.close()


def create_public(base_url: str) -> str:
    body = json.dumps({"public": True}).encode()
    request = urllib.request.Request(
        base_url + "/api/games", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["id"]


def challenge_ids(lists: dict) -> list[str]:
    return [challenge["id"] for challenge in lists["challenges"]]
