"""Playing with the keyboard alone, and on a phone-sized touch screen."""

import re

from playwright.sync_api import expect

from tests.e2e.test_play_in_browsers import start_and_join

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def tab_to(page, selector, limit=40):
    """Press Tab until ``selector`` has the focus, as a keyboard user would."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_a_whole_game_with_the_keyboard_alone(new_page, server):
    red = new_page()
    red.goto(server.url + "/")
    tab_to(red, "#start-seat")  # the colour, by keys too: Home picks the first choice, Red
    red.keyboard.press("Home")
    expect(red.locator("#start-seat")).to_have_value("1")
    tab_to(red, "#new-game")
    red.keyboard.press("Enter")
    expect(red.locator("#you")).to_contain_text("Red")

    yellow = new_page()
    yellow.goto(red.locator("#invite-url").input_value())
    tab_to(yellow, "#join-button")
    yellow.keyboard.press("Enter")
    expect(yellow.locator("#you")).to_contain_text("Yellow")

    for page in (red, yellow):
        expect(page.locator("body")).to_have_attribute("data-status", "playing")
        tab_to(page, "#board")
    # Red: number keys pick a column; Yellow: arrows move the cursor from the middle.
    for i in range(7):
        if i % 2 == 0:
            red.keyboard.press("4")
            red.keyboard.press("Enter")
        else:
            yellow.keyboard.press("ArrowLeft")
            yellow.keyboard.press("ArrowLeft")
            yellow.keyboard.press("ArrowLeft")
            yellow.keyboard.press("Enter")
            yellow.keyboard.press("ArrowRight")  # back to the middle for the next turn
            yellow.keyboard.press("ArrowRight")
            yellow.keyboard.press("ArrowRight")
        for page in (red, yellow):
            expect(page.locator("body")).to_have_attribute("data-seq", str(3 + i))
    expect(red.locator("#status")).to_contain_text("You win")
    expect(yellow.locator("#live")).to_contain_text("Red")
    expect(red.locator('[data-cell="3,3"]')).to_have_class(re.compile(r"\bwin\b"))


def test_every_move_is_announced_to_screen_readers(new_page, server):
    red, yellow, _ = start_and_join(new_page, server)
    red.click('[data-column="5"]')
    expect(yellow.locator("#live")).to_contain_text("Red played column 6")
    expect(red.locator("#live")).to_have_attribute("aria-live", "polite")


def test_a_game_on_phones_by_tapping(new_page, server, screenshot):
    red = new_page(**PHONE)
    red.goto(server.url + "/")
    red.select_option("#start-seat", "1")  # Red, who moves first (the default is random)
    red.tap("#new-game")
    yellow = new_page(**PHONE)
    yellow.goto(red.locator("#invite-url").input_value())
    yellow.tap("#join-button")
    expect(red.locator("body")).to_have_attribute("data-status", "playing")
    for i, column in enumerate([0, 6, 0, 6, 0, 6, 0]):
        mover = red if i % 2 == 0 else yellow
        expect(mover.locator("#status")).to_contain_text("Your turn")
        mover.tap(f'[data-column="{column}"]')
        expect(red.locator("body")).to_have_attribute("data-seq", str(3 + i))
    expect(yellow.locator("#status")).to_contain_text("Red wins")
    for page in (red, yellow):
        # The whole board fits the screen: no sideways scrolling on a phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = page.locator("#board").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    screenshot(yellow, "phone-game-over")
