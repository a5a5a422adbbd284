"""What the game page tells a player about the opponent's comings and goings, through real
browsers: nobody is said to be "back" who was never shown as away on that screen (a Play now
game's start, a rematch's), and someone who really left and came back is."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_lobby_in_browsers import GAME_URL, colours, play_now, seeking

# Every text the page puts in its notice or its live region, handed to the test as it appears
# (a notice lasts four seconds, so a look at the end would miss one), on every page the context opens.
RECORD_NOTICES = """
document.addEventListener('DOMContentLoaded', () => {
  for (const id of ['notice', 'live']) {
    const element = document.getElementById(id);
    if (!element) continue;
    let last = '';
    new MutationObserver(() => {
      const text = id === 'live' ? element.lastElementChild?.textContent || '' : element.textContent;
      if (text && text !== last) window.reportNotice(`${id}: ${text}`);
      last = text;
    }).observe(element, { childList: true, characterData: true, subtree: true });
  }
});
"""
BACK = re.compile(r"(Red|Yellow) is back\.")
# The laptop screens the layout is made for (tests/e2e/test_layout_in_browsers.py): the notices are
# checked where a person plays, not only in the default window.
LAPTOPS = {"1280x800": {"width": 1280, "height": 800}, "1366x768": {"width": 1366, "height": 768}}


def recording(page):
    """The page, with ``page.notices``: every notice and announcement its context's pages make."""
    notices = []
    page.notices = notices
    page.context.expose_binding("reportNotice", lambda source, text: notices.append(text))
    page.context.add_init_script(RECORD_NOTICES)
    return page


def backs(page) -> list[str]:
    return [text for text in page.notices if BACK.search(text)]


def paired(new_page, server, control, viewport=None):
    """Two strangers press Play now with ``control`` and land in one game: {'Red': page, 'Yellow': page}."""
    size = {"viewport": viewport} if viewport else {}
    first = recording(new_page(**size))
    second = recording(new_page(**size))
    for page in (first, second):
        page.goto(server.url + "/")
        expect(page.locator("#lobby")).to_have_attribute("data-connected", "true")
    play_now(new_page, server, control, page=first)
    seeking(first)
    play_now(new_page, server, control, page=second)
    for page in (first, second):
        expect(page).to_have_url(GAME_URL)
        expect(page.locator("body")).to_have_attribute("data-connected", "true")
        expect(page.locator("body")).to_have_attribute("data-status", "playing")
    return colours(first, second)


def again(closed):
    """A new page in the closed page's browser context, its errors and violations checked as the first's."""
    page = closed.context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    page.csp_violations = closed.csp_violations  # the context's binding reports into the first page's list
    page.on(
        "console",
        lambda message: page.csp_violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return page


def both_connected(red, yellow):
    for page in (red, yellow):
        expect(page.locator("#player-1")).to_have_attribute("data-online", "true")
        expect(page.locator("#player-2")).to_have_attribute("data-online", "true")


@pytest.mark.parametrize("laptop", LAPTOPS)
def test_no_one_is_back_at_a_play_now_start_nor_after_a_rematch(new_page, server, laptop):
    players = paired(new_page, server, "10+5", LAPTOPS[laptop])
    red, yellow = players["Red"], players["Yellow"]
    both_connected(red, yellow)
    for page in (red, yellow):
        expect(page.locator("#away-panel")).to_be_hidden()
    first_game = red.url

    # Red calls it off before a move; both ask to play again, and follow to the new game.
    abort = red.locator("#abort-button")
    abort.click()
    abort.click()
    expect(yellow.locator("body")).to_have_attribute("data-status", "aborted")
    red.click("#rematch-button")
    expect(yellow.locator("#rematch-button")).to_have_text("Accept rematch")
    yellow.click("#rematch-button")
    for page in (red, yellow):
        page.wait_for_url(lambda url: url != first_game)
        expect(page.locator("body")).to_have_attribute("data-connected", "true")
        expect(page.locator("body")).to_have_attribute("data-status", "playing")
    red, yellow = yellow, red  # colours swap
    expect(red.locator("#you")).to_contain_text("Red")
    both_connected(red, yellow)
    # The first move is made and seen by both: anything the arrivals set off has been said by now.
    red.click('[data-column="3"]')
    for page in (red, yellow):
        expect(page.locator("body")).to_have_attribute("data-seq", "3")
    for page in (red, yellow):
        assert backs(page) == [], f"a return nobody left for: {page.notices}"


@pytest.mark.parametrize("laptop", LAPTOPS)
def test_an_opponent_who_really_left_is_back(new_page, server, laptop):
    players = paired(new_page, server, "5+0", LAPTOPS[laptop])
    red, yellow = players["Red"], players["Yellow"]
    both_connected(red, yellow)
    game = yellow.url

    yellow.close()  # Yellow's only page: the seat is empty
    expect(red.locator("#away-panel")).to_be_visible()
    expect(red.locator("#away-message")).to_contain_text("Yellow left")
    assert backs(red) == []

    yellow = again(yellow)  # the same person (the session keeps the seat) comes back
    yellow.goto(game)
    expect(yellow.locator("#you")).to_contain_text("Yellow")
    expect(red.locator("#notice")).to_have_text("Yellow is back.")
    expect(red.locator("#away-panel")).to_be_hidden()
    assert "notice: Yellow is back." in red.notices
