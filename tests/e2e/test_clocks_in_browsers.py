"""Timed games in real browsers: the time control chosen on the home page, both clocks on every
screen, the running one ticking, the low-time warning, a game called off when a first move
does not come in time, a game lost on time, time given back after a server restart, and a
board that stays put as the first-move notes come and go."""

import json
import re
import signal
import subprocess
import sys
import time

import pytest
from playwright.sync_api import expect

from tests.servers import ROOT, Daphne, prepare

FIRST_MOVE_SECONDS = "2"
RUNNING = re.compile(r"\bclock-running\b")
# The game over on time takes the clock's few seconds and a moment for the server's timer.
GAME_OVER_WAIT_MS = 15_000


@pytest.fixture(scope="module")
def quick_first_move_server(tmp_path_factory):
    """A server of its own whose first moves must come within two seconds."""
    workdir = tmp_path_factory.mktemp("e2e-first-move")
    env = prepare(workdir, GAME_FIRST_MOVE_SECONDS=FIRST_MOVE_SECONDS)
    daphne = Daphne(env, workdir / "daphne.log").start()
    yield daphne
    daphne.stop()


@pytest.fixture(scope="module")
def restart_server(tmp_path_factory):
    """A server of its own, for a test that kills it. A process that starts when no other has
    beaten for GAME_OUTAGE_AFTER_SECONDS gives that time back to the running clocks."""
    workdir = tmp_path_factory.mktemp("e2e-restart")
    env = prepare(workdir, GAME_OUTAGE_AFTER_SECONDS="5")
    daphne = Daphne(env, workdir / "daphne.log").start()
    yield daphne
    daphne.stop()


# Run by `manage.py shell` with the server's settings: a game with a short clock (the presets are
# minutes long), and a session holding Red's seat token as the site's own views keep it.
SEATED_TIMED_GAME = """
import importlib, json
from django.conf import settings
from games.storage import store
from games.core.clock import TimeControl
from games.web.common import SESSION_SEATS
game_id, token = store.create_game("connect4", TimeControl({clock_ms}, 0, 20000))
session = importlib.import_module(settings.SESSION_ENGINE).SessionStore()
session[SESSION_SEATS] = {{game_id: token}}
session.save()
cookie = {{
    "name": settings.SESSION_COOKIE_NAME,
    "value": session.session_key,
    "httpOnly": settings.SESSION_COOKIE_HTTPONLY,
    "secure": settings.SESSION_COOKIE_SECURE,
    "sameSite": settings.SESSION_COOKIE_SAMESITE,
}}
print(json.dumps({{"game_id": game_id, "cookie": cookie}}))
"""


def start_seated_timed_game(new_page, server, clock_ms: int):
    """A game with ``clock_ms`` on each clock (20 s for first moves), made by the server's own
    code: Red's browser gets the session cookie and opens the game page; Yellow opens it and joins."""
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SEATED_TIMED_GAME.format(clock_ms=clock_ms)],
        cwd=ROOT,
        env=server.env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    made = json.loads(out.stdout.decode().strip().splitlines()[-1])
    red = new_page()
    red.context.add_cookies([{**made["cookie"], "url": server.url}])
    red.goto(f"{server.url}/g/{made['game_id']}/")
    expect(red.locator("#you")).to_have_text("You are Red (seat 1)")
    yellow = new_page()
    yellow.goto(red.url)
    yellow.click("#join-button")
    expect(yellow.locator("#you")).to_have_text("You are Yellow (seat 2)")
    for page in (red, yellow):
        expect(page.locator("body")).to_have_attribute("data-status", "playing")
    return red, yellow


def make_first_moves(red, yellow) -> None:
    """Red and Yellow each drop a disc: from then on the main clocks run, Red's first."""
    red.click('[data-column="3"]')
    expect(yellow.locator("body")).to_have_attribute("data-seq", "3")
    yellow.click('[data-column="3"]')
    for page in (red, yellow):
        expect(page.locator("body")).to_have_attribute("data-seq", "4")


def clock_ms(text: str) -> int:
    """A clock's face ("1:05", "0:09.3") in milliseconds."""
    minutes, seconds = text.split(":")
    return round((int(minutes) * 60 + float(seconds)) * 1000)


def start_timed_game(new_page, server, time_control="1+0", fake_clock=False):
    """Red picks the time control and presses New game; Yellow opens the link and joins."""
    red = new_page()
    yellow = new_page()
    for page in (red, yellow):
        page.sockets = []
        page.on("websocket", lambda socket, page=page: page.sockets.append(socket))
        if fake_clock:  # the pages' own clocks, which the test may move on (the server's runs as ever)
            page.clock.install()
    red.goto(server.url + "/")
    choice = red.get_by_role("region", name="Start a game").get_by_label("Time control")
    expect(choice).to_have_value("3+2")  # the home page's one default
    choice.select_option(time_control)
    red.select_option("#start-seat", "1")  # Red, who moves first (the default is random)
    red.click("#new-game")
    expect(red).to_have_url(re.compile(r"/g/[2-9A-HJ-NP-Z]{8}/$"))
    yellow.goto(red.url)
    yellow.click("#join-button")
    for page in (red, yellow):
        expect(page.locator("body")).to_have_attribute("data-status", "playing")
    return red, yellow


def advance(page, seconds: int) -> None:
    """Move the page's clock on, 20 s at a time: each step's ping is answered before the next,
    so the page never takes its socket for dead (silent for 45 s) and reconnects."""
    while seconds > 0:
        step = min(seconds, 20)
        if step == 20:
            with page.sockets[-1].expect_event("framereceived", predicate=lambda frame: '"pong"' in str(frame)):
                page.clock.fast_forward(step * 1000)
        else:
            page.clock.fast_forward(step * 1000)
        seconds -= step


def test_both_screens_show_both_clocks_and_the_running_one_ticks(new_page, server, screenshot):
    red, yellow = start_timed_game(new_page, server, fake_clock=True)
    for page in (red, yellow):
        expect(page.locator("#clocks")).to_be_visible()
        expect(page.locator("#clock-control")).to_have_text("1+0")
        expect(page.locator("#clock-1")).to_contain_text("Red")
        expect(page.locator("#clock-2")).to_contain_text("Yellow")
        expect(page.locator("#clock-time-1")).to_have_text("1:00")
        expect(page.locator("#clock-time-2")).to_have_text("1:00")
        # Red's first move has a limit of its own; its main clock does not run meanwhile.
        expect(page.locator("#clock-note-1")).to_have_text(re.compile(r"^Move within \d+ s$"))
        expect(page.locator("#clock-1")).to_have_class(re.compile(r"\bclock-first-move\b"))
        expect(page.locator("#clock-note-2")).to_be_hidden()
    expect(red.locator("#live")).to_contain_text("Make your first move within")
    screenshot(red, "clocks-first-move")

    # Both first moves made: from now on Red's main clock runs on both screens.
    red.click('[data-column="3"]')
    expect(yellow.locator("#clock-note-2")).to_be_visible()
    yellow.click('[data-column="3"]')
    for page in (red, yellow):
        expect(page.locator("body")).to_have_attribute("data-seq", "4")
        expect(page.locator("#clock-1")).to_have_class(re.compile(r"\bclock-running\b"))
        expect(page.locator("#clock-2")).not_to_have_class(re.compile(r"\bclock-running\b"))
        expect(page.locator("#clock-note-1")).to_be_hidden()
        expect(page.locator("#clock-time-1")).to_have_text(re.compile(r"^0:5\d$"))  # it ticks
        expect(page.locator("#clock-time-2")).to_have_text("1:00")  # Yellow's stands still

    # Move the pages' time on 51 s: Red's clock, counted down from the server's figure, is low.
    for page in (red, yellow):
        advance(page, 51)
    for page in (red, yellow):
        expect(page.locator("#clock-time-1")).to_have_text(re.compile(r"^0:0\d\.\d$"))
        expect(page.locator("#clock-1")).to_have_class(re.compile(r"\bclock-low\b"))
        expect(page.locator("#clock-2")).not_to_have_class(re.compile(r"\bclock-low\b"))
    expect(red.locator("#live")).to_contain_text("You have less than 10 seconds left.")
    expect(yellow.locator("#live")).to_contain_text("Red has less than 10 seconds left.")
    screenshot(red, "clocks-low-time")

    # Past zero the page shows 0:00.0 and waits for the server (whose own clock has not run out).
    for page in (red, yellow):
        advance(page, 15)
        expect(page.locator("#clock-time-1")).to_have_text("0:00.0")
        expect(page.locator("body")).to_have_attribute("data-status", "playing")
    # Said once per clock, however long it stays low.
    expect(red.locator("#live p", has_text="less than 10 seconds")).to_have_count(1)


def test_an_untimed_game_shows_no_clocks(new_page, server):
    red, yellow = start_timed_game(new_page, server, time_control="untimed")
    for page in (red, yellow):
        expect(page.locator("#status")).not_to_have_text("Connecting…")
        expect(page.locator("#clocks")).to_be_hidden()


def test_a_missing_first_move_calls_the_game_off_on_both_screens(new_page, quick_first_move_server):
    red, yellow = start_timed_game(new_page, quick_first_move_server)
    for page in (red, yellow):
        expect(page.locator("#clock-note-1")).to_have_text(re.compile(r"^Move within [12] s$"))
    for page in (red, yellow):
        expect(page.locator("body")).to_have_attribute("data-status", "aborted")
        expect(page.locator("#status")).to_have_text("Game called off: Red did not make a first move in time.")
        expect(page.locator("#clock-note-1")).to_be_hidden()
        expect(page.locator("#clock-1")).not_to_have_class(re.compile(r"\bclock-running|clock-first-move\b"))
    expect(yellow.locator("#live")).to_contain_text("did not make a first move in time")


def test_a_game_lost_on_time_on_both_screens(new_page, server, screenshot):
    red, yellow = start_seated_timed_game(new_page, server, clock_ms=3000)
    spectator = new_page()
    spectator.goto(red.url)
    expect(spectator.locator("#you")).to_have_text("You are watching")
    make_first_moves(red, yellow)
    everyone = (red, yellow, spectator)
    for page in everyone:
        expect(page.locator("#clock-1")).to_have_class(RUNNING)
    # Red does nothing: its three seconds run out, and the server says so to every screen.
    for page in everyone:
        expect(page.locator("body")).to_have_attribute("data-status", "finished", timeout=GAME_OVER_WAIT_MS)
        expect(page.locator("body")).to_have_attribute("data-result", "timeout")
        expect(page.locator("#clock-time-1")).to_have_text("0:00.0")
        expect(page.locator("#clock-time-2")).to_have_text("0:03.0")  # first moves cost the main clock nothing
        for seat in (1, 2):
            expect(page.locator(f"#clock-{seat}")).not_to_have_class(RUNNING)
        expect(page.locator("#game-over")).to_be_visible()
    expect(red.locator("#status")).to_have_text("You lost on time — Yellow wins.")
    expect(yellow.locator("#status")).to_have_text("You win on time! Red ran out of time.")
    expect(spectator.locator("#status")).to_have_text("Red lost on time — Yellow wins on time.")
    expect(yellow.locator("#live")).to_contain_text("You win on time! Red ran out of time.")
    screenshot(red, "clocks-lost-on-time")
    screenshot(yellow, "clocks-won-on-time")


# Red's clock runs past zero while the server is down. It must still have more than 10 s after
# the outage is given back: the outage ends when the first page reconnects, and the other's
# backoff (up to 10 s, static/js/game/protocol.js) may bring it back that much later.
OUTAGE_CLOCK_MS = 16_000
OUTAGE_SECONDS = 18


def test_time_given_back_after_a_server_restart_on_both_screens(new_page, restart_server, screenshot):
    red, yellow = start_seated_timed_game(new_page, restart_server, clock_ms=OUTAGE_CLOCK_MS)
    make_first_moves(red, yellow)
    for page in (red, yellow):
        expect(page.locator("#clock-1")).to_have_class(RUNNING)

    restart_server.stop(signal.SIGKILL)
    for page in (red, yellow):
        expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    time.sleep(OUTAGE_SECONDS)  # the outage itself: longer than Red's time left
    for page in (red, yellow):  # the pages count Red down to zero, and leave the verdict to the server
        expect(page.locator("#clock-time-1")).to_have_text("0:00.0")
        expect(page.locator("body")).to_have_attribute("data-status", "playing")
    restart_server.start()

    # The pages come back by themselves; Red has not lost, and its time is back on every screen.
    # The words are said in the live region, to screen readers; sighted players see the clock.
    for page in (red, yellow):
        expect(page.locator("#live")).to_contain_text("Time given back after a server restart.", timeout=20_000)
        expect(page.locator("body")).to_have_attribute("data-connected", "true")
        expect(page.locator("body")).to_have_attribute("data-status", "playing")
        expect(page.locator("#clock-1")).to_have_class(RUNNING)
        expect(page.locator("#clock-time-1")).not_to_have_text("0:00.0")
        assert 0 < clock_ms(page.locator("#clock-time-1").inner_text()) <= OUTAGE_CLOCK_MS
    expect(red.locator("#status")).to_have_text("Your turn")
    screenshot(red, "clocks-time-given-back")

    # Red moves, and the game goes on with Yellow's clock running.
    red.click('[data-column="4"]')
    for page in (red, yellow):
        expect(page.locator("body")).to_have_attribute("data-seq", "6")  # 5 was the time given back
        expect(page.locator("#clock-2")).to_have_class(RUNNING)
        expect(page.locator("#clock-1")).not_to_have_class(RUNNING)
    expect(yellow.locator("#status")).to_have_text("Your turn")


# Where an element is on the page (not in the viewport, which a click may scroll).
PAGE_BOX = "(e) => { const r = e.getBoundingClientRect(); return [r.x + scrollX, r.y + scrollY, r.width, r.height]; }"
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "narrow phone": {"viewport": {"width": 320, "height": 640}, "is_mobile": True, "has_touch": True},
}


@pytest.mark.parametrize("screen", VIEWPORTS)
def test_the_board_stays_put_as_the_first_move_notes_come_and_go(new_page, server, screen):
    """The note "Move within N s" under the clock of the side to move must not push the board
    down as it appears, nor pull it up as it goes: a board that moves under the pointer makes
    a player drop a disc in the wrong column."""
    red, yellow = start_timed_game(lambda: new_page(**VIEWPORTS[screen]), server)
    pages = (red, yellow)

    def board_where():
        return [page.locator("#board").evaluate(PAGE_BOX) for page in pages]

    for page in pages:
        expect(page.locator("#clock-note-1")).to_be_visible()
    where = board_where()
    red.click('[data-column="3"]')
    for page in pages:
        expect(page.locator("#clock-note-2")).to_be_visible()
        expect(page.locator("#clock-note-1")).to_be_hidden()
    assert board_where() == where, "Yellow's note taking over from Red's moved the board"
    yellow.click('[data-column="3"]')
    for page in pages:
        expect(page.locator("body")).to_have_attribute("data-seq", "4")
        expect(page.locator("#clock-note-2")).to_be_hidden()
    assert board_where() == where, "the notes going moved the board"
