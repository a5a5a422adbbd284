"""The servers under test: child processes we start, sample (CPU, RSS) and stop, always by PID.

Three kinds, each run as a :class:`Deployment` of one process, or two sharing Redis
(and PostgreSQL, for our server) when scaled out:

- ``ours``: ``daphne config.asgi:application``, the real game server;
- ``ws-relay``: bench/baselines/ws_relay.py, a floor for any Python WebSocket server;
- ``channels-relay``: bench/baselines/channels_relay.py on daphne, a floor for Channels.

Every deployment starts from nothing (a fresh SQLite file for ours), so one
scenario's leftovers never colour the next one's memory figures.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import psycopg
import redis

from bench.loadgen import HOST, GameDialect, RelayDialect, Target

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DAPHNE = str(BIN / "daphne")

# Our server as the issue describes it for benchmarks: production settings, limits out of the way.
OUR_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DJANGO_LOG_LEVEL": "WARNING",
    "GAME_RATE_PER_SECOND": "1000",
    "GAME_RATE_BURST": "1000",
    "GAME_IDLE_TIMEOUT_SECONDS": "3600",  # idle sockets must outlive the run
    # The whole load comes from one address: the per-address limits would refuse nearly all of it.
    "GAME_CREATE_PER_MINUTE": "100000000",
    "GAME_CREATE_BURST": "100000000",
    "GAME_JOIN_PER_MINUTE": "100000000",
    "GAME_JOIN_BURST": "100000000",
    "GAME_SEEK_PER_MINUTE": "100000000",
    "GAME_SEEK_BURST": "100000000",
    "GAME_MAX_SOCKETS_PER_ADDRESS": "100000000",
    "GAME_COMPUTER_PACE": "0",  # S7: the computer thinks without a pause, so it never rests
}
KINDS = ("ours", "ws-relay", "channels-relay")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def raise_open_file_limit() -> None:
    """Lift the soft RLIMIT_NOFILE to the hard limit; every server started afterwards inherits it."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any server configuration of its own, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GAME_", "DATABASE_URL", "REDIS_URL"))}
    env.update(settings)
    return env


@dataclass(frozen=True)
class Backing:
    """What a deployment's processes share: nothing (one process), or Redis and PostgreSQL (several)."""

    processes: int = 1
    redis_url: str = ""
    database_url: str = ""


ALONE = Backing()


class ServerProcess:
    """One child process serving on ``port``."""

    def __init__(self, argv: list[str], env: dict[str, str], port: int, log_path: Path):
        self.argv, self.env, self.port, self.log_path = argv, env, port, log_path
        self.process: subprocess.Popen | None = None
        self.stats: psutil.Process | None = None

    def start(self, timeout: float = 30) -> None:
        """Start the process and wait until it accepts connections."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.stats = psutil.Process(self.process.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv[-1]} exited at once:\n{self.log_tail()}")
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)  # not listening yet; nothing to wait on but the clock
        raise RuntimeError(f"{self.argv[-1]} did not listen on port {self.port}:\n{self.log_tail()}")

    def stop(self, timeout: float = 10) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def cpu_seconds(self) -> float:
        times = self.stats.cpu_times()
        return times.user + times.system

    def rss(self) -> int:
        return self.stats.memory_info().rss

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def tracebacks(self) -> list[str]:
        """The exception line of every traceback the process logged (of a chain, the last one only)."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        found = []
        for i, line in enumerate(lines):
            if not line.startswith("Traceback (most recent call last)"):
                continue
            end = next((j for j in range(i + 1, len(lines)) if lines[j] and not lines[j][0].isspace()), None)
            following = next((later for later in lines[end + 1 :] if later.strip()), "") if end else ""
            if end and not following.startswith(("The above exception", "During handling of the above")):
                found.append(lines[end])
        return found


@dataclass
class Deployment:
    """One server under test: its processes, and how the load generator reaches them."""

    kind: str
    target: Target
    processes: list[ServerProcess]

    def cpu_seconds(self) -> float:
        return sum(p.cpu_seconds() for p in self.processes)

    def rss(self) -> int:
        return sum(p.rss() for p in self.processes)

    def tracebacks(self) -> list[str]:
        return [line for p in self.processes for line in p.tracebacks()]


def _our_server(workdir: Path, backing: Backing) -> ServerProcess:
    port = free_port()
    env = clean_env(**OUR_ENV, DATABASE_URL=backing.database_url or f"sqlite:///{workdir / 'db.sqlite3'}")
    if backing.redis_url:
        env["REDIS_URL"] = backing.redis_url
    argv = [DAPHNE, "-b", HOST, "-p", str(port), "config.asgi:application"]
    return ServerProcess(argv, env, port, workdir / f"ours-{port}.log")


def _ws_relay(workdir: Path, backing: Backing) -> ServerProcess:
    if backing.processes > 1:
        raise ValueError("the websockets relay has no channel layer: it cannot span processes")
    port = free_port()
    argv = [sys.executable, "-m", "bench.baselines.ws_relay", "--port", str(port)]
    return ServerProcess(argv, clean_env(), port, workdir / f"ws-relay-{port}.log")


def _channels_relay(workdir: Path, backing: Backing) -> ServerProcess:
    port = free_port()
    env = clean_env(REDIS_URL=backing.redis_url) if backing.redis_url else clean_env()
    argv = [DAPHNE, "-b", HOST, "-p", str(port), "bench.baselines.channels_relay:application"]
    return ServerProcess(argv, env, port, workdir / f"channels-relay-{port}.log")


def migrate(env: dict[str, str]) -> None:
    command = [sys.executable, "manage.py", "migrate", "--no-input"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"manage.py migrate failed:\n{(done.stdout + done.stderr)[-3000:]}")


_STARTERS = {"ours": _our_server, "ws-relay": _ws_relay, "channels-relay": _channels_relay}


@contextlib.contextmanager
def deployed(kind: str, workdir: Path, backing: Backing = ALONE) -> Iterator[Deployment]:
    """Start ``kind`` on ``backing``; whatever happens in the block, stop every process started here."""
    directory = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=workdir))
    processes: list[ServerProcess] = []
    try:
        for index in range(backing.processes):
            server = _STARTERS[kind](directory, backing)
            if kind == "ours" and index == 0:
                migrate(server.env)
            processes.append(server)  # before starting, so a start that fails half-way is still stopped
            server.start()
        dialect = GameDialect() if kind == "ours" else RelayDialect()
        yield Deployment(kind, Target(dialect, (processes[0].port, processes[-1].port)), processes)
    finally:
        for process in processes:
            process.stop()


def one_line(error: Exception) -> str:
    return " ".join(str(error).split()).rstrip(".")


def scale_out_backends(redis_url: str, postgres_url: str) -> dict[str, str]:
    """The versions of the Redis and PostgreSQL servers S4 needs; ConnectionError says why they can't be used."""
    try:
        with redis.Redis.from_url(redis_url, socket_timeout=3) as client:
            redis_version = client.info("server")["redis_version"]
    except redis.RedisError as error:
        raise ConnectionError(f"Redis at {redis_url} did not answer ({one_line(error)})") from error
    try:
        with psycopg.connect(postgres_url, connect_timeout=3) as connection:
            postgres_version = connection.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error as error:
        raise ConnectionError(f"PostgreSQL at {postgres_url} did not answer ({one_line(error)})") from error
    return {"Redis": redis_version, "PostgreSQL": postgres_version}


@contextlib.contextmanager
def redis_database(url: str) -> Iterator[bool]:
    """Leave ``url``'s Redis database as found: emptied afterwards if it was empty before.

    Yields whether it was. Group keys outlive a server stopped mid-disconnect, for a day.
    """
    with redis.Redis.from_url(url) as client:
        empty = client.dbsize() == 0
    try:
        yield empty
    finally:
        if empty:
            with redis.Redis.from_url(url) as client:
                client.flushdb()


@contextlib.contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty ``bench_*`` database on ``server_url``'s server, dropped afterwards; yields its URL."""
    name = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(server_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_timed_games(server: ServerProcess, count: int, clock_ms: int) -> list[tuple[str, str]]:
    """``count`` games whose clocks hold ``clock_ms`` each (20 s for the first moves), made by the
    server's own code against its database: the presets are minutes long, too long for a window.
    Returns each game's ID and seat 1's token."""
    code = (
        "import json; from games.storage import store; from games.core.clock import TimeControl; "
        f"control = TimeControl({clock_ms}, 0, 20000); "
        f"print(json.dumps([store.create_game('connect4', control) for _ in range({count})]))"
    )
    command = [sys.executable, "manage.py", "shell", "-c", code]
    done = subprocess.run(command, cwd=ROOT, env=server.env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"creating timed games failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return [(game_id, token) for game_id, token in json.loads(done.stdout.strip().splitlines()[-1])]
