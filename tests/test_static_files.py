"""Collected static files: the page's ES modules import each other by their hashed names.

A browser caches hashed files for good. If a collected module imported its neighbours by their
plain names, a deploy could pair a new entry module with an old cached neighbour (or the
reverse); with hashed names, each version of a module can only ever load the versions it was
collected with.
"""

import http.client
import json
import posixpath
import re

from tests.servers import ROOT, Daphne, manage, prepare, production_env

SOURCE = ROOT / "static" / "js"
# import ... from './x.js';   export ... from './x.js';   import './x.js';   import('./x.js')
SPECIFIER = re.compile(r"""\b(?:from|import)\s*\(?\s*["']([^"']+)["']""")


def specifiers(text: str) -> list[str]:
    return SPECIFIER.findall(text)


def test_collected_modules_import_the_hashed_names_of_the_others(tmp_path):
    env = production_env(tmp_path)
    manage(env, "collectstatic", "--no-input")
    collected = tmp_path / "static"
    hashed = json.loads((collected / "staticfiles.json").read_text())["paths"]

    modules = sorted(f"js/{path.relative_to(SOURCE).as_posix()}" for path in SOURCE.rglob("*.js"))
    entry_imports = specifiers((SOURCE / "game" / "main.js").read_text())
    assert len(entry_imports) >= 4, "the entry module imports the page's modules"

    for module in modules:
        wanted = []
        for specifier in specifiers((SOURCE / module.removeprefix("js/")).read_text()):
            assert specifier.startswith(("./", "../")), f"{module}: import {specifier!r} by a relative path"
            target = posixpath.normpath(posixpath.join(posixpath.dirname(module), specifier))
            assert target in hashed, f"{module} imports {specifier}, which collectstatic did not collect"
            # The same relative path, ending in the hashed file name.
            wanted.append(posixpath.join(posixpath.dirname(specifier), posixpath.basename(hashed[target])))
        got = specifiers((collected / hashed[module]).read_text())
        assert got == wanted, f"{hashed[module]} imports {got}, not the hashed names {wanted}"
        for specifier in got:
            assert (collected / posixpath.dirname(module) / specifier).is_file()


def needed_by(entry: str) -> set[str]:
    """The modules ``entry`` imports, and theirs (paths under static/js/)."""
    needed, queue = set(), [entry]
    while queue:
        module = queue.pop()
        for specifier in specifiers((SOURCE / module).read_text()):
            name = posixpath.normpath(posixpath.join(posixpath.dirname(module), specifier))
            if name not in needed:
                needed.add(name)
                queue.append(name)
    return needed


def preloaded(page: str) -> set[str]:
    return set(re.findall(r'<link rel="modulepreload" href="/static/js/([^"]+)">', page))


def entries(page: str) -> list[str]:
    return re.findall(r'<script type="module" src="/static/js/([^"]+)"></script>', page)


def test_the_game_page_preloads_every_module_the_entry_needs():
    """The entry's imports (and theirs) are fetched alongside it, not one round trip later."""
    page = render_game_page()
    assert entries(page) == ["game/main.js"]
    assert preloaded(page) == needed_by("game/main.js")


def test_the_home_and_seek_pages_load_their_entry_and_preload_its_modules():
    for page, entry in ((render_home_page(), "lobby/main.js"), (render_seek_page(), "seek/main.js")):
        assert entries(page) == [entry]
        assert needed_by(entry), f"{entry} shares the reconnecting socket (shared/live-socket.js)"
        assert preloaded(page) == needed_by(entry)
        assert '<link rel="stylesheet" href="/static/css/lobby.css">' in page


def render_game_page() -> str:
    from django.template.loader import render_to_string

    game = {"id": "ABCD2345", "status": "waiting", "result": ""}
    return render_to_string("games/game.html", {"game": game, "client": {}, "seat": 1})


def render_home_page() -> str:
    from django.template.loader import render_to_string

    return render_to_string("games/home.html", {"lists": {"challenges": [], "games": [], "seekers": {}}})


def render_seek_page() -> str:
    from django.template.loader import render_to_string

    seek = {"id": "ABCD2345EFGH", "status": "waiting", "time_control": "3+2"}
    return render_to_string("games/seek.html", {"seek": seek, "client": {}})


def test_favicon_ico_answers_with_the_sites_icon_and_every_page_links_it(tmp_path):
    """Browsers and tools ask for /favicon.ico unprompted: it leads to the icon the pages link,
    the site's and the admin's alike, served as an SVG by a production-like server."""
    server = Daphne(prepare(tmp_path), tmp_path / "daphne.log").start()
    try:

        def get(path: str) -> tuple[int, dict, bytes]:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            connection.request("GET", path, headers={"Host": "127.0.0.1"})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()

        status, headers, _ = get("/favicon.ico")
        assert status == 302
        icon = headers["Location"]
        assert re.fullmatch(r"/static/favicon\.[0-9a-f]{12}\.svg", icon), icon
        status, headers, body = get(icon)
        assert status == 200 and headers["Content-Type"].startswith("image/svg+xml")
        assert body.lstrip().startswith(b"<svg")
        link = f'<link rel="icon" href="{icon}" type="image/svg+xml">'.encode()
        for page in ("/", "/admin/login/"):
            status, _, body = get(page)
            assert status == 200 and link in body, page
    finally:
        server.stop()
