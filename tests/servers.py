"""Real server processes for tests: daphne on a free loopback port, started and stopped by PID."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require(available: bool, reason: str) -> None:
    """Skip a test whose service is missing, except under CI, where that is a failure."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: a missing service is a failure)")
    pytest.skip(reason)


def require_shared_services(nginx: bool = True) -> None:
    """PostgreSQL, redis-server and (unless told otherwise) nginx: what several processes need."""
    require(postgres_available(), f"PostgreSQL is not reachable at {POSTGRES_URL}")
    require(bool(shutil.which("redis-server")), "redis-server is not installed")
    if nginx:
        require(bool(nginx_path()), "nginx is not installed")


def production_env(workdir: Path, **overrides: str) -> dict[str, str]:
    """Settings as a real deployment would have them: debug off, a secret, its own database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST", "DATABASE_URL", "REDIS_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_SECRET_KEY="e2e-secret-key-for-tests-only-0123456789",
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_STATIC_ROOT=str(workdir / "static"),
        DATABASE_URL=f"sqlite:///{workdir / 'db.sqlite3'}",
        PYTHONUNBUFFERED="1",
        # Tests create games and open sockets by the thousand from one address; the limit tests lower these.
        GAME_CREATE_PER_MINUTE="1000000",
        GAME_CREATE_BURST="1000000",
        GAME_JOIN_PER_MINUTE="1000000",
        GAME_JOIN_BURST="1000000",
        GAME_SEEK_PER_MINUTE="1000000",
        GAME_SEEK_BURST="1000000",
        GAME_MAX_SOCKETS_PER_ADDRESS="1000000",
    )
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)


class Daphne:
    """One ``daphne config.asgi:application`` process."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None):
        self.env = env
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> Daphne:
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.process = subprocess.Popen(
            [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "config.asgi:application"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)  # the port is not open yet: nothing to wait on but the clock
        self.stop()
        raise RuntimeError(f"daphne did not answer /healthz:\n{self.log_path.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)


def prepare(workdir: Path, **overrides: str) -> dict[str, str]:
    """A fresh database and collected static files for a server under test."""
    env = production_env(workdir, **overrides)
    manage(env, "migrate", "--no-input")
    manage(env, "collectstatic", "--no-input")
    return env


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def _wait_for_port(port: int, process: subprocess.Popen, log_path: Path, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited early:\n{log_path.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)  # not listening yet: nothing to wait on but the clock
    raise RuntimeError(f"nothing listened on {port}:\n{log_path.read_text()[-3000:]}")


class Redis:
    """A private redis-server on a free port that keeps nothing on disk, so a restart loses everything."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.log_path = workdir / "redis.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        _wait_for_port(self.port, self.process, self.log_path)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


NGINX_SITE = ROOT / "docs" / "nginx" / "game-server.conf"


class Nginx:
    """nginx running the documented site config, its upstream pointed at the given daphne ports."""

    def __init__(self, workdir: Path, upstream_ports: list[int]):
        self.port = free_port()
        self.prefix = workdir / "nginx"
        self.upstream_ports = upstream_ports
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _site(self) -> str:
        site = NGINX_SITE.read_text()
        servers = "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n" for p in self.upstream_ports)
        site, found = re.subn(r"(?m)^    server 127\.0\.0\.1:\d+ .*\n", "", site)
        assert found, "the documented upstream block has changed shape"
        site = site.replace("upstream game_servers {\n", "upstream game_servers {\n" + servers, 1)
        return site.replace("listen 8000;", f"listen 127.0.0.1:{self.port};")

    def start(self) -> Nginx:
        (self.prefix / "logs").mkdir(parents=True, exist_ok=True)
        (self.prefix / "site.conf").write_text(self._site())
        (self.prefix / "nginx.conf").write_text(
            "daemon off;\nworker_processes 1;\npid nginx.pid;\nerror_log logs/error.log warn;\n"
            "events { worker_connections 8192; }\n"
            "http {\n  access_log off;\n  client_body_temp_path tmp;\n  proxy_temp_path tmp;\n"
            "  include site.conf;\n}\n"
        )
        (self.prefix / "tmp").mkdir(exist_ok=True)
        log_path = self.prefix / "logs" / "error.log"
        log_path.touch()
        self.process = subprocess.Popen(
            [nginx_path(), "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=open(log_path, "ab"),  # noqa: SIM115 - kept open for the child's lifetime
        )
        _wait_for_port(self.port, self.process, log_path)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def nginx_path() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


POSTGRES_URL = os.environ.get("CI_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=2):
            return True
    except Exception:
        return False


class PostgresDatabase:
    """A throwaway database on the PostgreSQL server, shared by several server processes."""

    def __init__(self, name: str):
        self.name = name
        self.url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(sql)

    def create(self) -> PostgresDatabase:
        self.drop()
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
