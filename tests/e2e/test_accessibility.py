"""axe-core finds no serious accessibility problems (contrast included) on the pages people use."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

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


def test_reduced_motion_drops_discs_without_animating(new_page, server):
    red = new_page(reduced_motion="reduce")
    red.goto(server.url + "/")
    red.click("#new-game")
    yellow = new_page()
    yellow.goto(red.url)
    yellow.click("#join-button")
    expect(red.locator("#status")).to_contain_text("Your turn")
    red.click('[data-column="2"]')
    expect(red.locator('[data-cell="2,0"]')).to_have_attribute("data-seat", "1")
    running = red.evaluate("document.getAnimations().filter((a) => a.playState === 'running').length")
    assert running == 0
