"""Sounds on the game page, through real browsers: a beep for the opponent's move and for the
game's end, none for one's own move, none while muted; the mute toggle is a real button whose
choice this browser keeps across a reload.

Each sound played adds one to the toggle's ``data-played`` (static/js/game/sound.js): the count the
tests read, as nobody listens in a headless browser."""

from playwright.sync_api import expect

from tests.e2e.test_play_in_browsers import play, start_and_join


def played(page) -> int:
    return int(page.locator("#sound-toggle").get_attribute("data-played") or 0)


def test_the_opponents_move_and_the_end_sound_not_ones_own_move(new_page, server):
    red, yellow, _ = start_and_join(new_page, server)
    for page in (red, yellow):
        expect(page.locator("#sound-toggle")).to_have_attribute("aria-pressed", "true")  # on by default
    assert played(red) == played(yellow) == 0

    play(red, yellow, [3])  # Red's move: Yellow hears it, Red does not
    expect(yellow.locator("#sound-toggle")).to_have_attribute("data-played", "1")
    play(red, yellow, [2], played=1)  # and back
    expect(red.locator("#sound-toggle")).to_have_attribute("data-played", "1")
    assert played(yellow) == 1

    yellow.click("#resign-button")
    yellow.click("#resign-button")
    for page in (red, yellow):
        expect(page.locator("body")).to_have_attribute("data-result", "resigned")
    expect(red.locator("#sound-toggle")).to_have_attribute("data-played", "2")  # the end, once each
    expect(yellow.locator("#sound-toggle")).to_have_attribute("data-played", "2")
    red.click("#rematch-button")  # events after the end make no sound
    expect(yellow.locator("#rematch-button")).to_have_text("Accept rematch")
    assert played(red) == played(yellow) == 2


def test_muted_stays_muted_across_a_reload_and_plays_nothing(new_page, server):
    red, yellow, _ = start_and_join(new_page, server)
    toggle = yellow.locator("#sound-toggle")
    expect(toggle).to_have_accessible_name("Sound")
    # A real button, reached from the keyboard: Tab until it has the focus, then Enter.
    for _ in range(20):
        if toggle.evaluate("(button) => button === document.activeElement"):
            break
        yellow.keyboard.press("Tab")
    expect(toggle).to_be_focused()
    yellow.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-pressed", "false")

    yellow.reload()
    expect(yellow.locator("body")).to_have_attribute("data-connected", "true")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    play(red, yellow, [3, 2, 3, 2, 3])
    expect(red.locator("#sound-toggle")).to_have_attribute("data-played", "2")  # Red's sound is on
    assert played(yellow) == 0

    toggle.click()  # on again, and kept
    expect(toggle).to_have_attribute("aria-pressed", "true")
    yellow.reload()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(yellow.locator("body")).to_have_attribute("data-connected", "true")
    yellow.click('[data-column="0"]')
    expect(red.locator("#status")).to_contain_text("Your turn")
    red.click('[data-column="3"]')  # Red's fourth in column 3: Red's move and the game's end
    expect(yellow.locator("body")).to_have_attribute("data-result", "win")
    expect(toggle).to_have_attribute("data-played", "1")  # one sound: the end (the winning move is part of it)
