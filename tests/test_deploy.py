"""The documented production settings pass Django's deployment checks, and HTTPS is enforced behind the proxy."""

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.test import Client

from games.core.identity import GAME_ID_LENGTH
from tests.servers import Daphne, free_port, prepare

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = ROOT / "docs" / "production.env"


def production_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    for line in PRODUCTION_ENV.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return env


def test_check_deploy_is_clean_with_the_documented_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db(transaction=True)
def test_behind_the_tls_proxy_http_is_redirected_but_probes_are_not(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    client = Client()
    plain = client.get("/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    secure = client.get("/", headers={"x-forwarded-proto": "https"})
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")


def directives(text: str) -> list[str]:
    """Config lines without comments or blank lines, whitespace-normalised."""
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [" ".join(line.split()) for line in lines if line]


def test_the_deploy_guide_shows_the_tested_nginx_config():
    guide = (ROOT / "docs" / "deploy.md").read_text()
    shown = guide.split("```nginx\n", 1)[1].split("```", 1)[0]
    tested = (ROOT / "docs" / "nginx" / "game-server.conf").read_text()
    assert directives(shown) == directives(tested)


def test_the_api_keeps_https_enforcement_on_its_lean_stack(tmp_path):
    """The JSON API is served without the browser middleware, but still behind the TLS proxy's rules."""
    env = prepare(tmp_path, DJANGO_BEHIND_TLS_PROXY="1")
    server = Daphne(env, tmp_path / "daphne.log").start()
    try:

        def post(path: str, **headers: str) -> http.client.HTTPResponse:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            connection.request("POST", path, headers={"Host": "127.0.0.1", **headers})
            return connection.getresponse()

        plain = post("/api/games")
        assert plain.status == 301 and plain.getheader("Location").startswith("https://")
        secure = post("/api/games", **{"X-Forwarded-Proto": "https"})
        assert secure.status == 201 and "token" in json.loads(secure.read())
        assert secure.getheader("Strict-Transport-Security").startswith("max-age=31536000")
        assert secure.getheader("Set-Cookie") is None  # no session, no CSRF cookie: the token is the credential
    finally:
        server.stop()


def test_the_lean_server_tunes_the_interpreter_when_it_runs_not_on_import():
    """Serving, full garbage collections skip what startup made, and the journal thread's answers
    wait at most 1 ms for the GIL (config/websocket_protocol.py); importing the application
    (tests, manage.py) changes neither."""
    script = (
        "import gc, sys, config.asgi\n"
        "from daphne.server import Server\n"
        "from config.websocket_protocol import LeanServer\n"
        "print(gc.get_freeze_count(), sys.getswitchinterval())\n"
        "Server.run = lambda server: None  # everything of daphne's run but the reactor\n"
        'LeanServer(application=config.asgi.application, endpoints=["tcp:port=0"]).run()\n'
        "print(gc.get_freeze_count(), sys.getswitchinterval())\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "1"}
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    imported, serving = (line.split() for line in run.stdout.splitlines())
    assert (int(imported[0]), float(imported[1])) == (0, 0.005)
    assert int(serving[0]) > 10_000  # the objects of Django, Twisted and our modules
    assert float(serving[1]) == 0.001


def test_make_run_serves_with_debug_off_its_own_404_and_static_files(tmp_path):
    """``make run`` on a machine where nothing is set, as the README's recipe for friends on the
    network uses it: debug is off, so an unknown game's URL gets the project's own 404 page and not
    Django's list of every URL pattern; the secret key is made once for this machine and kept
    private; the page's static files are still served."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "PYTEST"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", DJANGO_STATIC_ROOT=str(tmp_path / "static"))
    key_file, port = tmp_path / ".secret_key", free_port()
    command = [make, "--no-print-directory", "-o", "install", "run"]  # installed already: no pip
    command += [f"VENV={sys.prefix}", f"PORT={port}", f"SECRET_KEY_FILE={key_file}"]
    with open(tmp_path / "make-run.log", "wb") as log:
        # A session of its own: make, its shell and daphne are stopped together, by this group's ID.
        run = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_health(base, run, tmp_path / "make-run.log")
        unknown_game = "/g/" + "Z" * GAME_ID_LENGTH + "/"
        for path in (unknown_game, "/no-such-page"):
            status, page = get(base + path)
            assert status == 404, page[:500]
            assert "No game with that code" in page
            assert "URLconf" not in page and "DEBUG = True" not in page
        stylesheets = re.findall(r'href="(/static/[^"]+\.css)"', get(base + unknown_game)[1])
        assert stylesheets and all(get(base + sheet)[0] == 200 for sheet in stylesheets)
        assert key_file.stat().st_mode & 0o777 == 0o600 and len(key_file.read_text().strip()) >= 50
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        run.wait(15)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for_health(base: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    """Until the server answers /healthz (make migrates and collects static files first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"make run exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)  # not listening yet: nothing to wait on but the clock
    raise AssertionError(f"make run did not answer /healthz:\n{log.read_text()[-3000:]}")
