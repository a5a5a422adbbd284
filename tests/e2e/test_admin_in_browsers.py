"""The operators' admin in a real browser on a laptop's screen (1280x800): the games list fits
it, with every column in view, and the live metrics have every number on the first render."""

import json
import re
import sqlite3
import urllib.request

from playwright.sync_api import expect

from tests.servers import manage

LAPTOP = {"viewport": {"width": 1280, "height": 800}}
# How many lines a cell's text takes on the screen (one rectangle per line of a text node).
LINES = """cell => {
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let lines = 0;
  while (walker.nextNode()) {
    if (!walker.currentNode.textContent.trim()) continue;
    range.selectNodeContents(walker.currentNode);
    lines = Math.max(lines, range.getClientRects().length);
  }
  return lines;
}"""


def api(server, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        server.url + path, data=json.dumps(body or {}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def operator_page(new_page, server, name: str):
    env = {**server.env, "DJANGO_SUPERUSER_PASSWORD": f"{name}-password"}
    manage(env, "createsuperuser", "--no-input", "--username", name, "--email", "op@example.com")
    page = new_page(**LAPTOP)
    page.goto(server.url + "/admin/login/")
    page.fill("#id_username", name)
    page.fill("#id_password", f"{name}-password")
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text(name)
    return page


def test_the_games_list_fits_a_laptop_screen(new_page, server, screenshot):
    # Games of every shape: against the computer (the longest opponent), timed, public, joined,
    # and one aborted with the longest reason there is.
    api(server, "/api/games", {"opponent": "computer", "level": 4, "seat": 1, "time_control": "10+5"})
    public = api(server, "/api/games", {"time_control": "3+2", "public": True})["id"]
    api(server, f"/api/games/{public}/join")
    expired = api(server, "/api/games")["id"]
    # The longest state: a game Yellow won by resignation (its row says so; the list reads no log).
    resigned = api(server, "/api/games", {"time_control": "10+5"})["id"]
    with sqlite3.connect(server.env["DATABASE_URL"].removeprefix("sqlite:///")) as db:
        db.execute("UPDATE games_game SET created_at = '2000-01-01 00:00:00' WHERE id = ?", [expired])
        db.execute(
            "UPDATE games_game SET status = 'finished', result = 'resigned', winner = 2 WHERE id = ?", [resigned]
        )

    creator = new_page()
    creator.goto(f"{server.url}/g/{expired}/")
    expect(creator.locator("body")).to_have_attribute("data-result", "aborted")  # the sweeper expired it

    page = operator_page(new_page, server, "layout-operator")
    page.goto(server.url + "/admin/games/game/")
    table = page.locator("#result_list")
    expect(table).to_contain_text("computer L4 (Yellow)")
    expect(table.locator("td.field-state", has_text="Aborted: expired")).to_have_count(1)
    expect(table.locator("td.field-state", has_text="Yellow wins (resign)")).to_have_count(1)
    screenshot(page, "admin-games-list-1280")

    # Nothing is cut: the table ends inside the window, and the page does not scroll sideways.
    right = table.evaluate("t => t.getBoundingClientRect().right")
    assert right <= 1280, f"the games list ends at {right} px, past the 1280 px window"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    # ...and inside its own box, which would otherwise scroll it sideways, hiding the last columns.
    results = page.locator("#changelist .results")
    assert results.evaluate("r => r.scrollWidth <= r.clientWidth"), results.evaluate(
        "r => [r.scrollWidth, r.clientWidth]"
    )
    for header in ("State", "Seq", "Conn.", "Created", "Updated"):
        cell = page.locator("#result_list thead th", has_text=header)
        box = cell.bounding_box()
        assert box and box["x"] + box["width"] <= 1280, header
    # Each opponent, and each time, stays on one line.
    for column in ("opponent_short", "state", "created", "updated"):
        cells = page.locator(f"#result_list td.field-{column}")
        assert cells.count() >= 3
        for cell in cells.all():
            assert cell.evaluate(LINES) == 1, (column, cell.text_content())


def test_the_live_metrics_have_every_number_on_the_first_render(new_page, server, screenshot):
    page = operator_page(new_page, server, "metrics-operator")
    page.goto(server.url + "/admin/metrics/")
    for metric in ("open_sockets", "games_playing", "games_in_memory", "moves_per_minute", "moves_committed"):
        expect(page.locator(f'[data-metric="{metric}"]')).to_have_text(re.compile(r"^\d+$"), timeout=1)
    screenshot(page, "admin-live-metrics-1280")
