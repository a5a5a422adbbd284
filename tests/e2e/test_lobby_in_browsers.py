"""Play now and the lobby through real browsers: strangers paired, open challenges and games to
watch listed live, a seeker's reload, and cancelling with and without script.

The browser tests share one server, so other tests' games are in the lists too: every check
looks for its own game's row (and each Play now test uses its own time control, and leaves no
seek waiting with a socket open, so no test's seeker is paired with another test's).
"""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_computer_in_browsers import start_computer_game
from tests.e2e.test_play_in_browsers import LAPTOPS, play, start_and_join

SEEK_URL = re.compile(r"/play/[2-9A-HJ-NP-Z]{12}/$")
GAME_URL = re.compile(r"/g/([2-9A-HJ-NP-Z]{8})/$")
HOME_URL = re.compile(r"/$")
STOPPED = "You stopped looking for an opponent."


def game_id(page) -> str:
    return GAME_URL.search(page.url).group(1)


def home(new_page, server, **options):
    """The home page, its lobby socket open (the lists it shows are live from then on)."""
    page = new_page(**options)
    page.goto(server.url + "/")
    expect(page.locator("#lobby")).to_have_attribute("data-connected", "true")
    return page


def play_now(new_page, server, control, page=None):
    """Press Play now with ``control``; answers the page, on the seek page or already in the game."""
    page = page or home(new_page, server)
    page.select_option("#play-time-control", control)
    page.click("#play-now")
    return page


def seeking(page) -> str:
    """Wait until the seek page's socket has said hello and been heard; answers the seek's ID."""
    expect(page).to_have_url(SEEK_URL)
    expect(page.locator("body")).to_have_attribute("data-connected", "true")
    return page.evaluate("JSON.parse(document.getElementById('seek-config').textContent).seekId")


def seek_status(page, seek_id) -> str:
    origin = re.match(r"https?://[^/]+", page.url).group(0)
    return page.request.get(f"{origin}/api/seeks/{seek_id}").json()["status"]


def row(page, list_id, game) -> object:
    return page.locator(f'#{list_id} li[data-game-id="{game}"]')


# An element as a tree of (tag, attributes but `value`, children), text that is only whitespace left out:
# what the script draws must be what the template renders (CSRF tokens differ, so values are not compared).
SHAPE = """
(element) => {
  const walk = (node) => node.nodeType === Node.TEXT_NODE
    ? (node.textContent.trim() ? node.textContent : null)
    : [node.tagName.toLowerCase(),
       Object.fromEntries([...node.attributes].filter((a) => a.name !== 'value').map((a) => [a.name, a.value])),
       [...node.childNodes].map(walk).filter((child) => child !== null)];
  return walk(element);
}
"""


def same_markup(drawn, rendered) -> None:
    """The row the lobby's script drew has the markup of the row the server rendered."""
    assert drawn.evaluate(SHAPE) == rendered.evaluate(SHAPE)


def colours(*pages) -> dict[str, object]:
    """{'Red': page, 'Yellow': page} from what each page says the player is."""
    found = {}
    for page in pages:
        expect(page.locator("#you")).to_contain_text(re.compile("Red|Yellow"))
        found["Red" if "Red" in page.locator("#you").inner_text() else "Yellow"] = page
    return found


def start_public_and_join(new_page, server):
    """Red starts a game listed publicly; Yellow opens its link and joins: a game anyone may watch."""
    red = new_page()
    red.goto(server.url + "/")
    red.check("#public")
    red.select_option("#start-seat", "1")  # Red, who moves first (the default is random)
    red.click("#new-game")
    expect(red).to_have_url(GAME_URL)
    invite = red.url
    yellow = new_page()
    yellow.goto(invite)
    yellow.click("#join-button")
    for page in (red, yellow):
        expect(page.locator("body")).to_have_attribute("data-status", "playing")
    return red, yellow, invite


def cancel(page) -> None:
    page.click("#cancel-seek")
    expect(page).to_have_url(HOME_URL)
    expect(page.locator("#messages")).to_contain_text(STOPPED)


def test_two_people_pressing_play_now_land_in_one_game_one_seat_each(new_page, server, screenshot):
    first = play_now(new_page, server, "1+0")
    seeking(first)
    expect(first.locator("#seek-control")).to_have_text("1+0")
    expect(first.locator("#seek-waited")).to_have_text(re.compile(r"^\d+:\d\d$"))
    screenshot(first, "seek-waiting")

    second = play_now(new_page, server, "1+0")
    for page in (first, second):
        expect(page).to_have_url(GAME_URL)
        expect(page.locator("body")).to_have_attribute("data-status", "playing")
    assert first.url == second.url
    players = colours(first, second)
    assert set(players) == {"Red", "Yellow"}

    red, yellow = players["Red"], players["Yellow"]
    expect(red.locator("#status")).to_contain_text("Your turn")
    red.click('[data-column="3"]')
    for page in (red, yellow):
        expect(page.locator("body")).to_have_attribute("data-seq", "3")
        expect(page.locator('[data-cell="3,0"]')).to_have_attribute("data-seat", "1")
    expect(yellow.locator("#status")).to_contain_text("Your turn")

    # Back from the game goes home, not to the finished search.
    first.go_back()
    expect(first).not_to_have_url(SEEK_URL)


def test_different_time_controls_are_not_paired(new_page, server):
    blitz = play_now(new_page, server, "3+2")
    rapid = play_now(new_page, server, "5+0")
    blitz_id, rapid_id = seeking(blitz), seeking(rapid)
    # Both are heard, so both are pairable: had they matched, the second hello would have paired them.
    assert seek_status(blitz, blitz_id) == "waiting"
    assert seek_status(rapid, rapid_id) == "waiting"
    expect(blitz).to_have_url(SEEK_URL)
    expect(rapid).to_have_url(SEEK_URL)
    expect(blitz.locator("#seek-control")).to_have_text("3+2")
    expect(rapid.locator("#seek-control")).to_have_text("5+0")

    # A third person looking at the home page sees how many wait for each.
    watcher = home(new_page, server)
    watcher.select_option("#play-time-control", "5+0")
    seekers = watcher.locator("#play-seekers")
    expect(seekers).to_be_visible()
    expect(seekers).to_contain_text(re.compile(r"\d+ (person is|people are) looking for a 5\+0 game"))

    for page in (blitz, rapid):
        cancel(page)
    assert seek_status(blitz, blitz_id) == "cancelled"


def test_cancel_goes_home_with_a_message(new_page, server, screenshot):
    page = play_now(new_page, server, "untimed")
    seek_id = seeking(page)
    expect(page.locator("#seek-control")).to_have_text("Untimed")
    cancel(page)
    screenshot(page, "seek-cancelled")
    assert seek_status(page, seek_id) == "cancelled"
    # A reload does not say it again.
    page.reload()
    expect(page.locator("#lobby")).to_be_visible()
    expect(page.locator("#messages")).to_have_count(0)


def test_cancel_works_without_script(new_page, server):
    page = new_page(java_script_enabled=False)
    page.goto(server.url + "/")
    page.select_option("#play-time-control", "untimed")
    page.click("#play-now")
    expect(page).to_have_url(SEEK_URL)
    expect(page.locator("#seek-status")).to_contain_text("as soon as someone")
    page.click("#cancel-seek")
    expect(page).to_have_url(HOME_URL)
    expect(page.locator("#messages")).to_contain_text(STOPPED)


def test_a_public_challenge_shows_up_live_and_accept_starts_the_game(new_page, server, screenshot):
    looker = home(new_page, server)
    other_looker = home(new_page, server)

    private = new_page()
    private.goto(server.url + "/")
    private.select_option("#start-seat", "1")  # Red, who moves first (the default is random)
    private.click("#new-game")
    expect(private).to_have_url(GAME_URL)
    private_id = game_id(private)

    creator = new_page()
    creator.goto(server.url + "/")
    creator.select_option("#time-control", "5+0")
    creator.check("#public")
    creator.select_option("#start-seat", "1")  # Red, who moves first (the default is random)
    creator.click("#new-game")
    expect(creator).to_have_url(GAME_URL)
    public_id = game_id(creator)

    challenge = row(looker, "challenges", public_id)
    expect(challenge).to_be_visible()  # no reload: the lobby's socket brought it
    expect(challenge.locator(".list-control")).to_have_text("5+0")
    expect(looker.locator("#challenges-empty")).to_be_hidden()
    expect(row(other_looker, "challenges", public_id)).to_be_visible()
    # The lists that brought the public game were read after the private one was made: never listed.
    expect(row(looker, "challenges", private_id)).to_have_count(0)
    rendered = new_page(java_script_enabled=False)  # the server's own rendering of the same row
    rendered.goto(server.url + "/")
    same_markup(challenge, row(rendered, "challenges", public_id))
    screenshot(looker, "lobby-challenge")

    challenge.get_by_role("button", name=re.compile("^Accept")).click()
    expect(looker).to_have_url(GAME_URL)
    assert game_id(looker) == public_id
    expect(looker.locator("#you")).to_contain_text("Yellow")
    for page in (creator, looker):
        expect(page.locator("body")).to_have_attribute("data-status", "playing")

    # Taken: it leaves the open challenges and joins the games being played, on the other screen too.
    expect(row(other_looker, "challenges", public_id)).to_have_count(0)
    expect(row(other_looker, "live-games", public_id)).to_be_visible()
    expect(row(other_looker, "challenges", private_id)).to_have_count(0)


def test_the_watch_list_shows_a_game_in_play_and_its_spectators_live(new_page, server, screenshot):
    viewer = home(new_page, server)
    _, _, private = start_and_join(new_page, server)  # an invite: never listed to strangers
    red, yellow, invite = start_public_and_join(new_page, server)
    game = GAME_URL.search(invite).group(1)

    listed = row(viewer, "live-games", game)
    expect(listed).to_be_visible()
    expect(row(viewer, "live-games", GAME_URL.search(private).group(1))).to_have_count(0)
    expect(listed.locator(".list-control")).to_have_text("3+2")  # the home page's default
    expect(listed.locator(".list-spectators")).to_have_text("0 watching")
    expect(viewer.locator("#live-empty")).to_be_hidden()
    rendered = new_page(java_script_enabled=False)
    rendered.goto(server.url + "/")
    same_markup(listed, row(rendered, "live-games", game))

    counter = home(new_page, server)  # someone else keeps the home page open
    expect(row(counter, "live-games", game).locator(".list-spectators")).to_have_text("0 watching")

    listed.get_by_role("link", name=re.compile("^Watch")).click()
    expect(viewer).to_have_url(f"{server.url}/g/{game}/watch")  # the watch link: never a seat
    expect(viewer.locator("#you")).to_contain_text("watching")
    expect(row(counter, "live-games", game).locator(".list-spectators")).to_have_text("1 watching")
    screenshot(counter, "lobby-watch-list")

    viewer.goto(server.url + "/")  # the spectator leaves the game's page
    expect(row(counter, "live-games", game).locator(".list-spectators")).to_have_text("0 watching")
    expect(row(viewer, "live-games", game)).to_be_visible()


def test_a_seeker_who_reloads_keeps_the_place_and_is_paired(new_page, server):
    first = play_now(new_page, server, "10+5")
    seek_id = seeking(first)
    first.reload()
    assert seeking(first) == seek_id  # the same search, still waiting
    assert seek_status(first, seek_id) == "waiting"

    second = play_now(new_page, server, "10+5")
    for page in (first, second):
        expect(page).to_have_url(GAME_URL)
        expect(page.locator("body")).to_have_attribute("data-status", "playing")
    assert first.url == second.url
    assert set(colours(first, second)) == {"Red", "Yellow"}
    assert seek_status(first, seek_id) == "paired"


def test_the_home_page_and_the_seek_page_fit_a_phone(new_page, server, screenshot):
    phone = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "color_scheme": "dark"}
    page = home(new_page, server, **phone)
    for selector in ("#play-now", "#new-game", "#join-code", "#lobby"):
        expect(page.locator(selector)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # nothing wider than the screen
    screenshot(page, "home-phone-dark")
    play_now(new_page, server, "untimed", page=page)
    seeking(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "seek-phone-dark")
    cancel(page)


class Outage:
    """The page's sockets to ``path`` go through Playwright: forwarded to the server, until
    ``start()`` drops them (both ends) and answers new ones with silence; ``end()`` lets them through again."""

    def __init__(self, page, path: str):
        self.open = []  # (page side, server side) of each socket forwarded
        self.silent = []
        self.down = False
        page.route_web_socket(re.compile(re.escape(path)), self.route)

    def route(self, socket):
        if self.down:
            self.silent.append(socket)  # a mocked socket that opens and never says a word, as a dead proxy would
        else:
            self.open.append((socket, socket.connect_to_server()))

    def start(self):
        self.down = True
        for page_side, server_side in self.open:
            server_side.close(code=1000)
            page_side.close(code=1011)
        self.open.clear()

    def end(self):
        self.down = False
        for socket in self.silent:
            socket.close(code=1011)  # the page's next try goes through
        self.silent.clear()


def test_a_seeker_whose_connection_drops_hears_of_it_keeps_the_place_and_is_paired(new_page, server):
    first = home(new_page, server)
    outage = Outage(first, "/ws/seeks/")
    play_now(new_page, server, "10+5", page=first)
    seek_id = seeking(first)
    status = first.locator("#seek-status")

    outage.start()
    expect(first.locator("body")).to_have_attribute("data-connected", "false")
    expect(status).to_contain_text("Reconnecting")
    expect(first).to_have_url(SEEK_URL)

    # Someone arrives meanwhile: nobody is paired with a seeker who is away, who keeps the place.
    second = play_now(new_page, server, "10+5")
    seeking(second)
    assert seek_status(first, seek_id) == "waiting"

    outage.end()
    for page in (first, second):
        expect(page).to_have_url(GAME_URL)
        expect(page.locator("body")).to_have_attribute("data-status", "playing")
    assert first.url == second.url
    assert seek_status(first, seek_id) == "paired"


def test_the_lobby_comes_back_after_a_drop_with_what_it_missed(new_page, server):
    looker = new_page()
    outage = Outage(looker, "/ws/lobby/")
    looker.goto(server.url + "/")
    expect(looker.locator("#lobby")).to_have_attribute("data-connected", "true")
    note = looker.locator("#lobby-note")
    expect(note).to_be_hidden()

    outage.start()
    expect(note).to_be_visible()
    creator = new_page()
    creator.goto(server.url + "/")
    creator.check("#public")
    creator.select_option("#start-seat", "1")  # Red, who moves first (the default is random)
    creator.click("#new-game")
    expect(creator).to_have_url(GAME_URL)
    missed = game_id(creator)
    expect(row(looker, "challenges", missed)).to_have_count(0)

    outage.end()
    expect(row(looker, "challenges", missed)).to_be_visible()
    expect(note).to_be_hidden()


def resign(page) -> None:
    """Resign (it takes a second click) and wait for the game to be over."""
    button = page.locator("#resign-button")
    button.click()
    expect(button).to_have_text("Really resign?")
    button.click()
    expect(page.locator("body")).to_have_attribute("data-status", "finished")


@pytest.mark.parametrize("screen", LAPTOPS)
def test_play_again_after_a_play_now_game_and_after_a_game_with_a_friend(new_page, server, screen):
    """Play again makes the same kind of game: a new seek at the same time control after Play now,
    a new invite at the same time control after a friend's game (not an untimed invite each time)."""
    size = LAPTOPS[screen]
    first = play_now(new_page, server, "10+5", page=home(new_page, server, **size))
    seeking(first)
    second = play_now(new_page, server, "10+5", page=home(new_page, server, **size))
    for page in (first, second):
        expect(page).to_have_url(GAME_URL)
        expect(page.locator("body")).to_have_attribute("data-status", "playing")
    seats = colours(first, second)
    play(seats["Red"], seats["Yellow"], [3, 2])  # both have moved: resigning is allowed
    resign(first)
    again = first.locator("#play-again")
    expect(again).to_have_text("Play again")
    expect(first.locator("#play-again-hint")).to_have_text("Look for a new opponent, 10+5.")
    expect(first.locator("#rematch-button")).to_be_visible()  # the same opponent stays a choice
    again.click()
    seeking(first)
    expect(first.locator("#seek-control")).to_have_text("10+5")
    cancel(first)  # no seek is left waiting for another test's seeker

    red = new_page(**size)
    red.goto(server.url + "/")
    red.get_by_role("region", name="Start a game").get_by_label("Time control").select_option("5+0")
    red.select_option("#start-seat", "1")  # Red, who moves first (the default is random)
    red.click("#new-game")
    expect(red).to_have_url(GAME_URL)
    yellow = new_page(**size)
    yellow.goto(red.url)
    yellow.click("#join-button")
    expect(red.locator("body")).to_have_attribute("data-status", "playing")
    play(red, yellow, [3, 2])
    resign(yellow)
    expect(yellow.locator("#play-again-hint")).to_have_text("A new game to invite a friend to, 5+0, you play Red.")
    finished = yellow.url
    yellow.click("#play-again")
    expect(yellow).to_have_url(GAME_URL)
    assert yellow.url != finished
    expect(yellow.locator("body")).to_have_attribute("data-status", "waiting")
    expect(yellow.locator("#clock-control")).to_have_text("5+0")
    expect(yellow.locator("#invite")).to_be_visible()
    expect(yellow.locator("#invite-url")).to_have_value(yellow.url)
    expect(yellow.locator("#you")).to_have_text("You are Red (seat 1)")  # colours swapped, as in a rematch


def test_a_game_against_the_computer_is_listed_and_watched_like_any_public_game(new_page, server):
    viewer = home(new_page, server)
    expect(viewer.locator("#computer-public")).to_be_checked()  # public by default, as Play now games are
    player = start_computer_game(new_page, server, seat="1", level="2")
    game = game_id(player)
    listed = row(viewer, "live-games", game)
    expect(listed.locator(".list-spectators")).to_have_text("Against the computer, level 2 · 0 watching")
    rendered = new_page(java_script_enabled=False)
    rendered.goto(server.url + "/")
    same_markup(listed, row(rendered, "live-games", game))

    listed.get_by_role("link", name=re.compile("^Watch")).click()
    expect(viewer).to_have_url(f"{server.url}/g/{game}/watch")
    expect(viewer.locator("#you")).to_have_text("You are watching")
    expect(viewer.locator("#opponent")).to_have_text("Red is playing the computer (level 2)")
    player.click("#column-3")
    expect(viewer.locator('[data-cell="3,0"]')).to_have_attribute("data-seat", "1")  # watched live
    expect(viewer.locator("#board [data-cell][data-seat]")).to_have_count(2, timeout=15_000)  # and its answer
