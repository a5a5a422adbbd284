"""axe-core finds no serious accessibility problems (contrast included) on the pages people use."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.e2e.test_lobby_in_browsers import start_public_and_join
from tests.e2e.test_play_in_browsers import play, start_and_join

SERIOUS = {"serious", "critical"}


def problems(page):
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_home_and_game_pages_pass_axe_in_light_and_dark(new_page, server, scheme):
    red, yellow, _ = start_and_join(new_page, server)
    play(red, yellow, [3, 3, 4])
    for page in (red, yellow):
        page.emulate_media(color_scheme=scheme)
        assert problems(page) == []
    home = new_page(color_scheme=scheme)
    home.goto(server.url + "/")
    assert problems(home) == []
    home.fill("#code", "NOPE2345")
    home.click("#join-code")
    expect(home.locator("body")).to_contain_text("There is no game")
    assert problems(home) == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_play_now_the_lobby_and_the_seek_page_pass_axe_in_light_and_dark(new_page, server, scheme):
    creator = new_page()
    creator.goto(server.url + "/")
    creator.check("#public")
    creator.select_option("#start-seat", "1")  # Red, who moves first (the default is random)
    creator.click("#new-game")  # an open challenge
    expect(creator.locator("#you")).to_contain_text("Red")
    challenge = creator.url.rstrip("/").rsplit("/", 1)[-1]
    start_public_and_join(new_page, server)  # a game being played that strangers may watch

    seeker = new_page(color_scheme=scheme)
    seeker.goto(server.url + "/")
    seeker.click("#play-now")  # 3+2, the preselected time control
    expect(seeker).to_have_url(re.compile(r"/play/\w+/$"))
    expect(seeker.locator("body")).to_have_attribute("data-connected", "true")
    assert problems(seeker) == []

    home = new_page(color_scheme=scheme)
    home.goto(server.url + "/")
    expect(home.locator(f'#challenges li[data-game-id="{challenge}"]')).to_be_visible()
    expect(home.locator("#live-games li").first).to_be_visible()
    expect(home.locator("#play-seekers")).to_be_visible()  # someone is looking for 3+2
    assert problems(home) == []

    seeker.click("#cancel-seek")
    expect(seeker.locator("#messages")).to_contain_text("You stopped looking")
    assert problems(seeker) == []


def test_reduced_motion_drops_discs_without_animating(new_page, server):
    red = new_page(reduced_motion="reduce")
    red.goto(server.url + "/")
    red.select_option("#start-seat", "1")  # Red, who moves first (the default is random)
    red.click("#new-game")
    yellow = new_page()
    yellow.goto(red.url)
    yellow.click("#join-button")
    expect(red.locator("#status")).to_contain_text("Your turn")
    red.click('[data-column="2"]')
    expect(red.locator('[data-cell="2,0"]')).to_have_attribute("data-seat", "1")
    running = red.evaluate("document.getAnimations().filter((a) => a.playState === 'running').length")
    assert running == 0


@pytest.mark.parametrize("motion", ["reduce", "no-preference"])
def test_the_seek_pages_searching_discs_keep_still_under_reduced_motion(new_page, server, motion):
    page = new_page(reduced_motion=motion)
    page.goto(server.url + "/")
    page.select_option("#play-time-control", "untimed")
    page.click("#play-now")
    expect(page.locator("body")).to_have_attribute("data-connected", "true")
    running = page.evaluate("document.getAnimations().filter((a) => a.playState === 'running').length")
    assert running == (0 if motion == "reduce" else 4)
    page.click("#cancel-seek")
    expect(page.locator("#messages")).to_contain_text("You stopped looking")
