"""Every page carries the Content-Security-Policy; the JSON API and the probes do not need one."""

import pytest
from channels.testing import HttpCommunicator
from django.test import Client

from config.asgi import application
from tests.test_views import create_game

pytestmark = pytest.mark.django_db(transaction=True)

# What every page's policy says, directive by directive (connect-src adds the page's socket origin).
STRICT = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def policy(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header, as {directive: [sources]}."""
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in directives, f"{name} given twice"
        directives[name] = sources
    return directives


def assert_strict(response, socket_origin="ws://testserver") -> None:
    directives = policy(response)
    for name, sources in STRICT.items():
        assert directives[name] == sources, f"{name}: {directives[name]}"
    assert directives["connect-src"] == ["'self'", socket_origin]
    for sources in directives.values():
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources


def test_the_home_page_and_the_not_found_page_carry_the_policy(client):
    home = client.get("/")
    assert home.status_code == 200
    assert_strict(home)
    missing = client.get("/join", {"code": "NOSUCHGAME"})
    assert missing.status_code == 404
    assert_strict(missing)


def test_the_invite_the_join_and_the_watch_pages_carry_the_policy():
    creator, friend, watcher = Client(), Client(), Client()
    game_id = create_game(creator)
    invite = creator.get(f"/g/{game_id}/")  # seat 1, waiting: the invite link and its QR code
    assert b'id="invite-qr"' in invite.content
    assert_strict(invite)
    join = friend.get(f"/g/{game_id}/")  # the friend's view before pressing Join
    assert b'id="join-button"' in join.content
    assert_strict(join)
    assert friend.post(f"/g/{game_id}/join").status_code == 302
    playing = friend.get(f"/g/{game_id}/")
    assert b"You are Yellow" in playing.content
    assert_strict(playing)
    watch = watcher.get(f"/g/{game_id}/")
    assert b"You are watching" in watch.content
    assert_strict(watch)


def test_the_pages_have_no_inline_script_or_style_attribute(client):
    """The page's configuration is a JSON data block (not executed, so not subject to
    script-src); every other script is a file of our own, and no element has a style attribute."""
    game_id = create_game(client)
    for page in (client.get("/"), client.get(f"/g/{game_id}/")):
        html = page.content.decode()
        assert " style=" not in html
        scripts = html.split("<script")[1:]
        for script in scripts:
            opening = script.split(">", 1)[0]
            assert ' src="/static/' in opening or 'type="application/json"' in opening, opening


def test_the_admin_login_page_carries_the_policy(client):
    page = client.get("/admin/login/")
    assert page.status_code == 200
    assert_strict(page)
    assert " style=" not in page.content.decode()


def test_over_https_the_socket_origin_is_wss(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    page = client.get("/", headers={"x-forwarded-proto": "https", "host": "testserver"})
    assert_strict(page, socket_origin="wss://testserver")


async def test_the_api_and_the_probes_are_served_without_a_policy():
    """Through the real ASGI application, as daphne serves it: the lean handler sets no policy."""
    host = [(b"host", b"testserver")]
    for method, path in [("POST", "/api/games"), ("GET", "/healthz"), ("GET", "/readyz")]:
        answer = await HttpCommunicator(application, method, path, headers=host).get_response()
        headers = {name.decode().lower() for name, _ in answer["headers"]}
        assert answer["status"] in (200, 201), path
        assert "content-security-policy" not in headers, path
    page = await HttpCommunicator(application, "GET", "/", headers=host).get_response()
    headers = {name.decode().lower(): value.decode() for name, value in page["headers"]}
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
