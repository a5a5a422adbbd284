"""Two people, and someone watching, play through real browsers against a real server."""

import re

import pytest
from playwright.sync_api import expect

from tests.test_rules import DRAW_SEQUENCE

# Common laptop windows: what a person sees without scrolling.
LAPTOPS = {
    "1280x800": {"viewport": {"width": 1280, "height": 800}},
    "1366x768": {"viewport": {"width": 1366, "height": 768}},
}


def start_and_join(new_page, server):
    """Red presses New game and shares the link; Yellow opens it and presses Join."""
    red = new_page()
    red.goto(server.url + "/")
    red.select_option("#start-seat", "1")  # Red, who moves first (the default is random)
    red.click("#new-game")
    expect(red).to_have_url(re.compile(r"/g/[2-9A-HJ-NP-Z]{8}/$"))
    expect(red.locator("#you")).to_contain_text("Red")
    invite = red.locator("#invite-url").input_value()
    assert invite == red.url

    yellow = new_page()
    yellow.goto(invite)
    expect(yellow.locator("#you")).to_contain_text("watching")  # opening the link takes no seat
    yellow.click("#join-button")
    expect(yellow.locator("#you")).to_contain_text("Yellow")
    for page in (red, yellow):
        expect(page.locator("body")).to_have_attribute("data-status", "playing")
    expect(red.locator("#status")).to_contain_text("Your turn")
    return red, yellow, invite


def play(red, yellow, columns, watchers=(), played=0):
    """Click the columns in turn, as people would, and check every screen shows each move."""
    for i, column in enumerate(columns, start=played):
        mover = red if i % 2 == 0 else yellow
        expect(mover.locator("#status")).to_contain_text("Your turn")
        mover.click(f'[data-column="{column}"]')
        seq = str(3 + i)
        for page in (red, yellow, *watchers):
            expect(page.locator("body")).to_have_attribute("data-seq", seq)


def test_a_game_to_a_win_with_a_spectator(new_page, server, screenshot):
    red, yellow, invite = start_and_join(new_page, server)
    watcher = new_page()
    watcher.goto(invite)
    expect(watcher.locator("#you")).to_contain_text("watching")
    expect(watcher.locator("#join-button")).to_have_count(0)

    play(red, yellow, [3, 0, 3, 0, 3], watchers=[watcher])
    screenshot(red, "game-in-progress")
    play(red, yellow, [0, 3], watchers=[watcher], played=5)  # Red completes column 3
    for page in (red, yellow, watcher):
        expect(page.locator("body")).to_have_attribute("data-status", "finished")
        expect(page.locator(".win")).to_have_count(4)
        for row in range(4):
            expect(page.locator(f'[data-cell="3,{row}"]')).to_have_class(re.compile(r"\bwin\b"))
    expect(red.locator("#status")).to_contain_text("You win")
    expect(yellow.locator("#status")).to_contain_text("Red wins")
    expect(watcher.locator("#status")).to_contain_text("Red wins")
    expect(watcher.locator("#moves li")).to_have_count(7)
    screenshot(red, "game-won")


def test_a_game_to_a_draw(new_page, server, screenshot):
    red, yellow, _ = start_and_join(new_page, server)
    play(red, yellow, DRAW_SEQUENCE)
    for page in (red, yellow):
        expect(page.locator("body")).to_have_attribute("data-status", "finished")
        expect(page.locator("#status")).to_contain_text(re.compile("draw", re.I))
        expect(page.locator(".win")).to_have_count(0)
    screenshot(yellow, "game-drawn")


def test_a_player_who_reloads_keeps_the_seat(new_page, server):
    red, yellow, _ = start_and_join(new_page, server)
    play(red, yellow, [2, 4])
    red.reload()
    expect(red.locator("#you")).to_contain_text("Red")
    expect(red.locator("body")).to_have_attribute("data-seq", "4")
    play(red, yellow, [2], played=2)  # Red moves on after the reload
    expect(red.locator('[data-cell="2,1"]')).to_have_attribute("data-seat", "1")


@pytest.mark.parametrize("script", [True, False], ids=["script", "no script"])
@pytest.mark.parametrize("screen", LAPTOPS)
def test_a_mistyped_code_is_explained_where_the_code_was_typed(new_page, server, screen, script):
    """The page comes back with the error beside the box, in view, announced, and the box focused
    to type again: with or without the page's script."""
    page = new_page(**LAPTOPS[screen], java_script_enabled=script)
    join_by_code(page, server, "NOPE2345")
    error = page.locator("#code-error")
    expect(error).to_have_text("There is no game with the code “NOPE2345”. Check it and try again.")
    expect(error).to_have_attribute("role", "alert")
    expect(error).to_be_in_viewport(ratio=1)
    box = page.locator("#code")
    expect(box).to_be_focused()
    expect(box).to_be_in_viewport(ratio=1)
    expect(box).to_have_value("NOPE2345")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_have_attribute("aria-describedby", "code-error")


def join_by_code(page, server, code: str) -> None:
    """Type the code on the home page and press Join, as a friend told the code would."""
    page.goto(server.url + "/")
    page.fill("#code", code)
    page.click("#join-code")


@pytest.mark.parametrize("screen", LAPTOPS)
def test_joining_by_code_takes_the_seat_and_the_watch_link_only_watches(new_page, server, screen):
    red = new_page(**LAPTOPS[screen])
    red.goto(server.url + "/")
    red.select_option("#start-seat", "1")  # Red, who moves first (the default is random)
    red.click("#new-game")
    expect(red.locator("#you")).to_contain_text("Red")
    code = red.locator("#game-code").inner_text()
    game_url = red.url
    # The invite link is for inviting; the watch link beside the board is another one.
    expect(red.locator("#invite-url")).to_have_value(game_url)
    expect(red.locator("#watch-url")).to_have_value(game_url + "watch")

    # Someone given the watch link while the seat is still free is never offered it.
    watcher = new_page(**LAPTOPS[screen])
    watcher.goto(red.locator("#watch-url").input_value())
    expect(watcher.locator("body")).to_have_attribute("data-connected", "true")
    expect(watcher.locator("#you")).to_have_text("You are watching")
    expect(watcher.locator("#join-button")).to_have_count(0)
    expect(watcher.locator("#invite")).to_have_count(0)

    # The friend types the code (any case, with a dash) and is Yellow at once: no second press.
    yellow = new_page(**LAPTOPS[screen])
    join_by_code(yellow, server, f"{code[:4].lower()}-{code[4:]}")
    expect(yellow).to_have_url(game_url)
    expect(yellow.locator("#you")).to_have_text("You are Yellow (seat 2)")
    expect(yellow.locator("#join-button")).to_have_count(0)
    for page in (red, yellow, watcher):
        expect(page.locator("body")).to_have_attribute("data-status", "playing")
    play(red, yellow, [3, 2], watchers=[watcher])
    expect(watcher.locator("#you")).to_have_text("You are watching")

    # A third person typing the code watches, and the page says why, where it can be seen.
    late = new_page(**LAPTOPS[screen])
    join_by_code(late, server, code)
    expect(late).to_have_url(game_url)
    expect(late.locator("#you")).to_have_text("You are watching")
    expect(late.locator("#messages")).to_contain_text("Both seats are taken, so you are watching.")
    expect(late.locator("#messages")).to_be_in_viewport()
    expect(late.locator("body")).to_have_attribute("data-seq", "4")


def test_the_creator_picks_yellow_and_the_friend_who_joins_plays_red_first(new_page, server):
    creator = new_page()
    creator.goto(server.url + "/")
    card = creator.get_by_role("region", name="Start a game")
    expect(card.get_by_label("You play")).to_have_value("random")  # the default
    card.get_by_label("You play").select_option("2")
    creator.click("#new-game")
    expect(creator.locator("#you")).to_have_text("You are Yellow (seat 2)")
    expect(creator.locator("#invite")).to_be_visible()
    expect(creator.locator("#player-1 .player-state")).to_have_text("seat free")
    visitor = new_page()
    visitor.goto(creator.url)
    expect(visitor.locator("#join-title")).to_have_text("Yellow is waiting for an opponent")
    expect(visitor.locator("#opponent")).to_have_text("Waiting for Red to join")

    friend = new_page()
    join_by_code(friend, server, creator.locator("#game-code").inner_text())
    expect(friend.locator("#you")).to_have_text("You are Red (seat 1)")
    expect(friend.locator("#status")).to_have_text("Your turn")
    expect(creator.locator("#status")).to_have_text("Waiting for Red…")
    expect(creator.locator("#live")).to_contain_text("Red joined. Red to move.")
    expect(creator.locator("#invite")).to_be_hidden()
    play(friend, creator, [3, 4], watchers=[visitor])
    expect(visitor.locator('[data-cell="3,0"]')).to_have_attribute("data-seat", "1")
