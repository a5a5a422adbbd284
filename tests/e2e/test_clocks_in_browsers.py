"""Timed games in real browsers: the time control chosen on the home page, both clocks on every
screen, the running one ticking, the low-time warning, and a game called off when a first move
does not come in time."""

import re

import pytest
from playwright.sync_api import expect

from tests.servers import Daphne, prepare

FIRST_MOVE_SECONDS = "2"


@pytest.fixture(scope="module")
def quick_first_move_server(tmp_path_factory):
    """A server of its own whose first moves must come within two seconds."""
    workdir = tmp_path_factory.mktemp("e2e-first-move")
    env = prepare(workdir, GAME_FIRST_MOVE_SECONDS=FIRST_MOVE_SECONDS)
    daphne = Daphne(env, workdir / "daphne.log").start()
    yield daphne
    daphne.stop()


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
    expect(red.get_by_label("Time control")).to_have_value("untimed")
    red.get_by_label("Time control").select_option(time_control)
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
