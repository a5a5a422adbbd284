"""A timed game fits a laptop's window: the whole board, both clocks and every action a player
needs (Resign; then Rematch, Accept rematch, New game) are on screen without scrolling."""

import pytest
from playwright.sync_api import expect

from tests.e2e.test_clocks_in_browsers import RUNNING, start_timed_game
from tests.e2e.test_play_in_browsers import play

LAPTOPS = {"1280x800": {"width": 1280, "height": 800}, "1366x768": {"width": 1366, "height": 768}}

# The element's box in the viewport, the viewport's height, and how far the page scrolls.
WHERE = """(e) => { const r = e.getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, height: innerHeight,
          scrolls: document.scrollingElement.scrollHeight - innerHeight}; }"""


def on_screen(page, *selectors):
    """Each element is shown, whole, inside the window, and the page does not scroll."""
    for selector in selectors:
        element = page.locator(selector)
        expect(element).to_be_visible()
        where = element.evaluate(WHERE)
        assert where["top"] >= 0 and where["bottom"] <= where["height"], f"{selector} is not on screen: {where}"
        assert where["scrolls"] <= 0, f"the page scrolls by {where['scrolls']} px"


@pytest.mark.parametrize("laptop", LAPTOPS)
def test_a_timed_game_fits_a_laptop_screen(new_page, server, screenshot, laptop):
    red, yellow = start_timed_game(lambda: new_page(viewport=LAPTOPS[laptop]), server, time_control="3+2")
    play(red, yellow, [3, 2, 3])
    for page in (red, yellow):
        expect(page.locator("#clock-2")).to_have_class(RUNNING)
        on_screen(page, "#board", "#clock-1", "#clock-2", "#resign-button")

    yellow.click("#resign-button")
    yellow.click("#resign-button")
    for page in (red, yellow):
        expect(page.locator("body")).to_have_attribute("data-result", "resigned")
    on_screen(red, "#board", "#clock-1", "#clock-2", "#status", "#rematch-button", "#play-again")
    red.click("#rematch-button")
    expect(yellow.locator("#rematch-button")).to_have_text("Accept rematch")
    on_screen(yellow, "#board", "#clock-1", "#clock-2", "#status", "#rematch-note", "#rematch-button", "#play-again")
    on_screen(red, "#rematch-note", "#rematch-button", "#play-again")
    screenshot(yellow, f"laptop-{laptop}-rematch-offered")


def test_an_untimed_game_fits_a_small_laptop_screen(new_page, server):
    """Without clocks the board takes their room, and still the game and its actions fit."""
    red, yellow = start_timed_game(lambda: new_page(viewport={"width": 1280, "height": 720}), server, "untimed")
    play(red, yellow, [3, 2])
    for page in (red, yellow):
        expect(page.locator("#clocks")).to_be_hidden()
        on_screen(page, "#status", "#board", "#resign-button")
