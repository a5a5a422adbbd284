"""Play now across processes: three daphne processes behind nginx on Redis and PostgreSQL, the
database deciding every pairing. Each seeker is a stranger with an address of its own (a
loopback address), as nginx and the per-address limits see it."""

import asyncio
import os
import re
import signal
from collections import Counter

import psycopg
import pytest

from tests import servers
from tests.servers import Daphne, Nginx, PostgresDatabase, Redis, prepare
from tests.wsclient import Player, Seeker

pytestmark = pytest.mark.timeout(240)

SEEKERS = 200


def source(index: int) -> str:
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


class Deployment:
    """Three processes behind nginx, sharing Redis and a PostgreSQL database of their own."""

    def __init__(self, workdir, processes=3):
        servers.require_shared_services()
        self.workdir, self.processes = workdir, processes

    def __enter__(self):
        self.database = PostgresDatabase(f"pairing_{os.getpid()}").create()
        self.redis = Redis(self.workdir).start()
        self.daphnes, self.nginx = [], None
        try:
            self.env = prepare(
                self.workdir,
                DATABASE_URL=self.database.url,
                REDIS_URL=self.redis.url,
                GAME_TRUSTED_PROXIES="127.0.0.1",
            )
            for index in range(self.processes):
                self.daphnes.append(Daphne(self.env, self.workdir / f"daphne-{index}.log").start())
            self.nginx = Nginx(self.workdir, [d.port for d in self.daphnes]).start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info):
        if self.nginx is not None:
            self.nginx.stop()
        for daphne in self.daphnes:
            daphne.stop()
        self.redis.stop()
        self.database.drop()

    def seek_sockets_served(self, daphne) -> int:
        return len(re.findall(r"WSCONNECT /ws/seeks/", daphne.log_path.read_text(errors="replace")))

    def rows(self, sql: str) -> list[tuple]:
        with psycopg.connect(self.database.url) as db:
            return db.execute(sql).fetchall()


async def test_two_hundred_seekers_at_once_over_three_processes_are_paired_exactly_once(tmp_path):
    with Deployment(tmp_path) as deployment:
        seekers = [Seeker(deployment.nginx.url, source(i)) for i in range(SEEKERS)]

        async def seek_and_wait(seeker):
            await seeker.create()
            if seeker.seek["status"] != "paired":
                greeting = await seeker.connect()
                assert greeting["type"] in ("seeking", "paired"), greeting
            else:  # paired as it was made: its socket says so at once
                assert (await seeker.connect())["type"] == "paired"
            return await seeker.until_paired()

        told = await asyncio.gather(*(seek_and_wait(seeker) for seeker in seekers))

        games = Counter(message["game_id"] for message in told)
        assert len(games) == SEEKERS // 2 and set(games.values()) == {2}  # 100 games, two seekers each
        for game_id in games:
            assert sorted(m["seat"] for m in told if m["game_id"] == game_id) == [1, 2]
        # The database agrees: every seek paired once, into a game of two; none waiting, none twice.
        assert deployment.rows("SELECT status, count(*) FROM games_seek GROUP BY status") == [("paired", SEEKERS)]
        per_game = deployment.rows("SELECT game_id, count(*), min(seat), max(seat) FROM games_seek GROUP BY game_id")
        assert len(per_game) == SEEKERS // 2 and {row[1:] for row in per_game} == {(2, 1, 2)}
        assert deployment.rows("SELECT count(*) FROM games_game WHERE status = 'playing' AND seq = 2") == [
            (SEEKERS // 2,)
        ]
        assert all(deployment.seek_sockets_served(daphne) > 0 for daphne in deployment.daphnes)

        # Each seek's token is its seat in the game, as the game itself says.
        for message, seeker in list(zip(told, seekers, strict=True))[:10]:
            player = Player(deployment.nginx.url, message["game_id"], message["token"])
            assert (await player.connect())["seat"] == message["seat"]
            assert message["token"] == seeker.seek["token"]
            await player.close()
        for seeker in seekers:
            await seeker.close()


async def test_seekers_on_a_process_killed_with_sigkill_reconnect_through_nginx_and_are_paired(tmp_path):
    controls = ["1+0", "3+2", "5+0", "10+5", ""]  # one waiting seeker per pool: none can pair yet
    with Deployment(tmp_path) as deployment:
        waiting = [Seeker(deployment.nginx.url, source(i), control) for i, control in enumerate(controls)]
        for seeker in waiting:
            await seeker.create()
            assert (await seeker.connect())["type"] == "seeking"
        victim = max(deployment.daphnes, key=deployment.seek_sockets_served)
        assert deployment.seek_sockets_served(victim) > 0
        victim.stop(signal.SIGKILL)

        # Those whose socket died reconnect through nginx to a live process and keep their place.
        pending = [asyncio.ensure_future(seeker.until_paired()) for seeker in waiting]
        await asyncio.sleep(1)  # the outage the reconnecting seekers live through (no event to wait on)
        partners = [Seeker(deployment.nginx.url, source(100 + i), control) for i, control in enumerate(controls)]
        for partner in partners:
            await partner.create()
            await partner.connect()
        told = await asyncio.gather(*pending)
        partners_told = [await partner.until_paired() for partner in partners]

        assert sum(seeker.reconnects for seeker in waiting) > 0  # some seekers really lived through the kill
        for seeker, first, second in zip(waiting, told, partners_told, strict=True):
            assert first["game_id"] == second["game_id"], (seeker.time_control, first, second)
            assert {first["seat"], second["seat"]} == {1, 2}
        assert deployment.rows("SELECT status, count(*) FROM games_seek GROUP BY status") == [("paired", 10)]
        for seeker in waiting + partners:
            await seeker.close()
