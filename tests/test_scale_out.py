"""Several daphne processes behind nginx, on Redis and PostgreSQL, with no sticky sessions.

Everything here is real: a private redis-server, a throwaway PostgreSQL database,
three daphne processes and nginx round-robin in front running the documented
config. Players of one game sit on different processes; one process is killed
and Redis is restarted mid-game, and every game still ends with nothing lost.
"""

import asyncio
import json
import os
import signal
import urllib.error
import urllib.request

import psycopg
import pytest
from websockets.asyncio.client import connect

from tests import servers
from tests.servers import Daphne, Nginx, PostgresDatabase, Redis, prepare
from tests.wsclient import COLUMNS, ROWS, Player, api, play_out, play_turns

pytestmark = pytest.mark.timeout(300)

SERVER_TIMEOUT = 5  # seconds without a heartbeat before a process counts as dead


class Cluster:
    def __init__(self, workdir, env, database, redis, daphnes, nginx):
        self.workdir, self.env, self.database, self.redis = workdir, env, database, redis
        self.daphnes, self.nginx = daphnes, nginx

    @property
    def url(self) -> str:
        return self.nginx.url

    def servers_of(self, game_id: str) -> dict[int | None, list[str]]:
        """Which process holds each greeted connection of a game (by seat; None for spectators)."""
        found: dict[int | None, list[str]] = {}
        with psycopg.connect(self.database.url) as db:
            rows = db.execute(
                "SELECT c.seat, s.pid FROM games_connection c JOIN games_server s ON s.id = c.server_id "
                "WHERE c.game_id = %s",
                [game_id],
            )
            for seat, pid in rows:
                found.setdefault(seat, []).append(pid)
        return found

    def event_log(self, game_id: str) -> list[tuple[int, str]]:
        with psycopg.connect(self.database.url) as db:
            return list(db.execute("SELECT seq, kind FROM games_gameevent WHERE game_id = %s ORDER BY seq", [game_id]))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    servers.require_shared_services()
    workdir = tmp_path_factory.mktemp("cluster")
    database = PostgresDatabase(f"scale_out_{os.getpid()}").create()
    redis = Redis(workdir).start()
    daphnes, nginx = [], None
    try:
        env = prepare(
            workdir,
            DATABASE_URL=database.url,
            REDIS_URL=redis.url,
            GAME_SERVER_TIMEOUT_SECONDS=str(SERVER_TIMEOUT),
            GAME_SWEEP_INTERVAL_SECONDS="0.5",
        )
        daphnes = [Daphne(env, workdir / f"daphne-{i}.log").start() for i in range(3)]
        nginx = Nginx(workdir, [d.port for d in daphnes]).start()
        yield Cluster(workdir, env, database, redis, daphnes, nginx)
    finally:
        if nginx is not None:
            nginx.stop()
        for daphne in daphnes:
            daphne.stop()
        redis.stop()
        database.drop()


async def seated_tables(url: str, count: int, spectators: bool = False) -> list[tuple[Player, ...]]:
    """Games with both seats taken. Sockets connect one after another, so strict round-robin
    puts the two players (and the spectator) of every game on different processes."""
    games = []
    for _ in range(count):
        created = api(url, "/api/games")
        joined = api(url, f"/api/games/{created['id']}/join")
        games.append((created["id"], created["token"], joined["token"]))
    tables = []
    for game_id, red_token, yellow_token in games:
        table = [Player(url, game_id, red_token), Player(url, game_id, yellow_token)]
        if spectators:
            table.append(Player(url, game_id))
        for player in table:
            await player.connect()
        tables.append(tuple(table))
    return tables


async def finish(tables) -> None:
    """Play every game to its end at once (spectators just follow), reconnecting whenever a socket drops."""
    await asyncio.gather(*(play_out(player) for table in tables for player in table))


def assert_nothing_lost(cluster: Cluster, tables) -> None:
    for red, yellow, *watchers in tables:
        log = cluster.event_log(red.game_id)
        assert [seq for seq, _ in log] == list(range(1, len(log) + 1))
        for player in (red, yellow, *watchers):
            assert player.state["status"] == "finished"
            assert player.seq == len(log)
        # Everyone saw the same game: events seen live agree, and every acknowledged move is in the log.
        assert red.events[-1] == yellow.events[-1]
        moves = {e.get("move_id") for e in red.events + yellow.events if e["type"] == "move"}
        assert set(red.acked) | set(yellow.acked) <= moves
        assert len([kind for _, kind in log if kind == "move"]) <= COLUMNS * ROWS


async def close_all(tables) -> None:
    for table in tables:
        for player in table:
            await player.close()


async def test_games_play_through_nginx_with_players_on_different_processes(cluster):
    tables = await seated_tables(cluster.url, 24, spectators=True)
    for red, *_ in tables:
        placed = cluster.servers_of(red.game_id)
        assert len({placed[1][0], placed[2][0], placed[None][0]}) == 3, placed
    await finish(tables)
    assert_nothing_lost(cluster, tables)
    await close_all(tables)


async def test_simultaneous_moves_on_two_processes_exactly_one_wins(cluster):
    """The same seat is open on two processes and both send a move at once: the database takes one."""
    ((red, yellow),) = await seated_tables(cluster.url, 1)
    twin = Player(cluster.url, red.game_id, red.token)
    await twin.connect()
    assert len(set(cluster.servers_of(red.game_id)[1])) == 2  # seat 1 is held on two processes
    for turn in range(3):  # red's discs land in columns 0-2 or 4-6, yellow's in 3: nobody wins
        results = await asyncio.gather(
            red.move(column=turn, move_id=f"a{turn}"),
            twin.move(column=turn + 4, move_id=f"b{turn}"),
        )
        kinds = sorted(message["type"] for message in results)
        assert kinds == ["ack", "error"], results
        ack = next(m for m in results if m["type"] == "ack")
        refusal = next(m for m in results if m["type"] == "error")
        assert refusal["code"] == "not_your_turn"
        assert refusal["seq"] == ack["seq"]  # the loser is told the state as it now is
        for player in (red, twin, yellow):  # everyone sees the one accepted move, once
            while player.seq < ack["seq"]:
                await player.receive("move")
            assert player.events[-1]["seq"] == ack["seq"]
        answer = await yellow.move()
        assert answer["type"] == "ack", answer
        for player in (red, twin, yellow):
            while player.seq < answer["seq"]:
                await player.receive("move")
    assert [kind for _, kind in cluster.event_log(red.game_id)].count("move") == 6
    for player in (red, twin, yellow):
        await player.close()


async def next_presence(player: Player, check, timeout: float = 15) -> dict:
    """Wait for a presence update that passes ``check``."""
    async with asyncio.timeout(timeout):
        while True:
            message = await player.receive("presence", timeout=timeout)
            if check(message):
                return message


async def test_presence_is_shared_by_all_processes(cluster):
    ((red, yellow, watcher),) = await seated_tables(cluster.url, 1, spectators=True)
    second = Player(cluster.url, red.game_id)
    await second.connect()
    assert (await next_presence(red, lambda p: p["spectators"] == 2))["players"] == {"1": True, "2": True}

    await yellow.close()  # yellow's process notices; red and the spectators are elsewhere
    for player in (red, watcher):
        gone = await next_presence(player, lambda p: not p["players"]["2"])
        assert gone["away"]["2"]["claim_in"] > 0 and gone["away"]["1"] is None

    await yellow.connect()
    back = await next_presence(red, lambda p: p["players"]["2"])
    assert back["away"]["2"] is None and back["spectators"] == 2
    for player in (red, yellow, watcher, second):
        await player.close()


async def test_a_killed_process_loses_nothing_and_its_players_move_over(cluster):
    tables = await seated_tables(cluster.url, 12)
    for red, yellow in tables:
        await play_turns(red, yellow, 5)
    doomed = cluster.daphnes[0]
    on_doomed = [p for table in tables for p in table if doomed.process.pid in cluster.servers_of(p.game_id)[p.seat]]
    assert on_doomed, "round-robin put some players on every process"
    # One player on the doomed process never comes back; the opponent must see that.
    ghost = on_doomed[0]
    ghost_table = next(t for t in tables if ghost in t)
    survivor = next(p for p in ghost_table if p is not ghost)
    # A move is in flight on the doomed process when it dies.
    mover = next(p for p in on_doomed[1:] if p.my_turn)
    await mover.send({"type": "move", "column": mover.choose(), "move_id": "in-flight"})

    doomed.stop(signal.SIGKILL)
    try:
        away = await next_presence(survivor, lambda p: not p["players"][str(ghost.seat)], timeout=SERVER_TIMEOUT + 10)
        assert away["away"][str(ghost.seat)]["claim_in"] > 0
        await ghost.close()

        others = [t for t in tables if t is not ghost_table]
        await finish(others)  # everyone else reconnects through nginx to the live processes
        assert_nothing_lost(cluster, others)
        in_flight = [e for t in others for e in t[0].events if e.get("move_id") == "in-flight"]
        assert len(in_flight) <= 1  # landed once, or was refused and played again under a new ID
        await close_all(others)
        await survivor.close()
    finally:
        doomed.start()  # same port: the cluster is whole again for the next test


def readyz(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


async def ready_again(url: str, probes: int = 50) -> bool:
    """Whether /readyz says 200 again within ``probes`` tries, polled as a load balancer would. A
    process finds out that Redis is back on its next use of a connection, so the first probe after
    the restart may still fail; there is no event to wait on from outside."""
    for _ in range(probes):
        if readyz(url)[0] == 200:
            return True
        await asyncio.sleep(0.2)
    return False


async def test_games_continue_after_redis_restarts(cluster):
    tables = await seated_tables(cluster.url, 12, spectators=True)
    for red, yellow, _ in tables:
        await play_turns(red, yellow, 4)

    cluster.redis.stop()  # it keeps nothing: groups and queued messages are gone
    status, body = readyz(cluster.url)
    assert status == 503 and body["checks"]["database"] == "ok" and body["checks"]["channel_layer"] != "ok"
    cluster.redis.start()
    assert await ready_again(cluster.url)

    await finish(tables)
    assert_nothing_lost(cluster, tables)
    await close_all(tables)


async def test_thousands_of_sockets_connect_at_once_to_one_process(cluster):
    """Each socket's channel and group are subscriptions on the process's one Redis pub/sub
    connection: a burst of them queues there, none fails."""
    # A process of its own on the cluster's Redis and database, fresh from start-up.
    daphne = Daphne(cluster.env, cluster.workdir / "daphne-burst.log").start()
    try:
        await burst_of_watchers(daphne, games=200, sockets=2000)
        log = (cluster.workdir / "daphne-burst.log").read_text()  # before the noise of shutting down
    finally:
        daphne.stop()
    assert "MaxConnectionsError" not in log and "Too many connections" not in log and "Traceback" not in log


async def burst_of_watchers(daphne: Daphne, games: int, sockets: int) -> None:
    """Open ``sockets`` spectators at once over ``games`` games; each must hear of the next event."""
    created = [api(daphne.url, "/api/games") for _ in range(games)]
    ws_url = daphne.url.replace("http", "ws", 1)

    async def watch(game_id: str):
        # The server pings every socket itself; the client need not add thousands of pings of its own.
        socket = await connect(f"{ws_url}/ws/games/{game_id}/", origin=daphne.url, open_timeout=60, ping_interval=None)
        await socket.send(json.dumps({"type": "hello"}))
        while json.loads(await socket.recv())["type"] != "welcome":
            pass
        return socket

    async with asyncio.timeout(240):
        watchers = await asyncio.gather(*(watch(created[i % games]["id"]) for i in range(sockets)))
    try:
        for game in created:  # the second seat is taken: every watcher of that game is told
            api(daphne.url, f"/api/games/{game['id']}/join")

        async def told(socket) -> None:
            while json.loads(await socket.recv())["type"] != "joined":
                pass

        async with asyncio.timeout(240):
            await asyncio.gather(*(told(socket) for socket in watchers))
    finally:
        await asyncio.gather(*(socket.close() for socket in watchers))
