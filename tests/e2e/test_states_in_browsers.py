"""Resigning, aborting, leaving, coming back and rematches, through real browsers against a real server."""

import json
import re
import sqlite3

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import settle
from tests.e2e.test_play_in_browsers import play, start_and_join
from tests.servers import Daphne, prepare

GAME_URL = re.compile(r"/g/[2-9A-HJ-NP-Z]{8}/$")
# Short enough for a test, long enough to watch the countdown: the page shows the away banner
# only after a player has been gone for 1.5 s, so that a quick reload does not flash it.
CLAIM_AFTER_SECONDS = "3"


class Relay:
    """Playwright between a page and the game server: every frame passes through a hook, which may drop it.

    ``to_server`` and ``to_page`` get each frame as a dict and return the dict to send (changed or
    not) or None to drop it. While ``refusing``, new connections are closed at once, as by a server
    that is down.
    """

    def __init__(self, page):
        self.to_server = lambda frame: frame
        self.to_page = lambda frame: frame
        self.refusing = False
        self.sockets = []  # the page side of every connection, oldest first
        page.route_web_socket(re.compile(r"/ws/games/"), self._connect)

    def _connect(self, ws):
        if self.refusing:
            ws.close(code=4000, reason="down")
            return
        server = ws.connect_to_server()
        self.sockets.append(ws)
        ws.on_message(lambda message: self._pass(self.to_server, message, server))
        server.on_message(lambda message: self._pass(self.to_page, message, ws))

    @staticmethod
    def _pass(hook, message, target):
        frame = hook(json.loads(message))
        if frame is not None:
            target.send(json.dumps(frame))


def both_show(red, yellow, seq: int, moves: int):
    """Both players' pages are at ``seq`` and list ``moves`` moves."""
    for page in (red, yellow):
        expect(page.locator("body")).to_have_attribute("data-seq", str(seq))
        expect(page.locator("#moves li")).to_have_count(moves)


def landed(page):
    """Wait until falling discs have landed, so a screenshot shows the board as people see it."""
    return settle(page, transitions_only=True)


@pytest.fixture(scope="module")
def quick_claim_server(tmp_path_factory):
    """A server where an absent player can be declared the loser after a few seconds, not a minute."""
    workdir = tmp_path_factory.mktemp("claim-server")
    env = prepare(workdir, GAME_CLAIM_AFTER_SECONDS=CLAIM_AFTER_SECONDS)
    daphne = Daphne(env, workdir / "daphne.log").start()
    yield daphne
    daphne.stop()


def test_resigning_takes_a_second_click_and_ends_the_game(new_page, server, screenshot):
    red, yellow, invite = start_and_join(new_page, server)
    watcher = new_page()
    watcher.goto(invite)
    expect(yellow.locator("#abort-button")).to_be_visible()  # nobody has moved: calling it off is still allowed
    play(red, yellow, [3, 2], watchers=[watcher])
    expect(yellow.locator("#abort-button")).to_be_hidden()
    expect(watcher.locator("#resign-button")).to_be_hidden()  # spectators have nothing to resign

    resign = yellow.locator("#resign-button")
    resign.click()
    expect(resign).to_have_text("Really resign?")
    expect(yellow.locator("#live")).to_contain_text("again")
    expect(red.locator("body")).to_have_attribute("data-status", "playing")  # one click changes nothing yet
    resign.click()

    for page in (red, yellow, watcher):
        expect(page.locator("body")).to_have_attribute("data-status", "finished")
        expect(page.locator("body")).to_have_attribute("data-result", "resigned")
        expect(page.locator("#game-over")).to_be_visible()
    expect(red.locator("#status")).to_have_text("You win! Yellow resigned.")
    expect(yellow.locator("#status")).to_have_text("You resigned — Red wins.")
    expect(watcher.locator("#status")).to_have_text("Yellow resigned — Red wins.")
    expect(red.locator("#live")).to_contain_text("Yellow resigned")
    expect(resign).to_be_hidden()
    expect(yellow.locator("#rematch-button")).to_have_text("Rematch")
    expect(watcher.locator("#rematch-button")).to_be_hidden()
    screenshot(landed(yellow), "resigned")


def test_a_rematch_swaps_colours_and_takes_everyone_along(new_page, server, screenshot):
    red, yellow, invite = start_and_join(new_page, server)
    watcher = new_page()
    watcher.goto(invite)
    expect(watcher.locator("#you")).to_contain_text("watching")
    play(red, yellow, [3, 0, 3, 0, 3, 0, 3], watchers=[watcher])
    expect(red.locator("#status")).to_contain_text("You win")

    red.click("#rematch-button")
    expect(red.locator("#rematch-button")).to_have_text("Rematch offered")
    expect(red.locator("#rematch-button")).to_be_disabled()
    expect(red.locator("#rematch-note")).to_have_text("Rematch offered — waiting for Yellow")
    expect(yellow.locator("#rematch-note")).to_have_text("Red offers a rematch")
    expect(yellow.locator("#live")).to_contain_text("Red offers a rematch")
    expect(watcher.locator("#rematch-note")).to_have_text("Red offers a rematch")
    accept = yellow.locator("#rematch-button")
    expect(accept).to_have_text("Accept rematch")
    screenshot(landed(yellow), "rematch-offered")
    accept.click()

    yellow.wait_for_url(lambda url: url != invite)
    rematch = yellow.url
    assert GAME_URL.search(rematch), rematch
    for page in (red, watcher):
        expect(page).to_have_url(rematch)
    # Colours swap: the old Yellow is Red now and moves first.
    expect(yellow.locator("#you")).to_contain_text("Red")
    expect(yellow.locator("#status")).to_have_text("Your turn")
    expect(red.locator("#you")).to_contain_text("Yellow")
    expect(red.locator("#status")).to_have_text("Waiting for Red…")
    expect(watcher.locator("#you")).to_contain_text("watching")
    for page in (red, yellow, watcher):
        expect(page.locator("body")).to_have_attribute("data-status", "playing")
        expect(page.locator("body")).to_have_attribute("data-result", "")
        expect(page.locator("#moves li")).to_have_count(0)
    play(yellow, red, [3], watchers=[watcher])  # the new Red (yesterday's Yellow) opens
    expect(watcher.locator('[data-cell="3,0"]')).to_have_attribute("data-seat", "1")


def test_a_player_whose_network_drops_comes_back_by_itself(new_page, server, screenshot):
    red, yellow, _ = start_and_join(new_page, server)
    play(red, yellow, [3, 2, 3])

    yellow.context.set_offline(True)
    expect(yellow.locator("body")).to_have_attribute("data-connected", "false")
    expect(yellow.locator("#connection")).to_have_text("Reconnecting…")
    expect(yellow.locator("#notice")).to_contain_text("offline")
    expect(yellow.locator('[data-column="2"]')).to_have_attribute("aria-disabled", "true")
    screenshot(landed(yellow), "reconnecting")

    expect(red.locator("#opponent")).to_contain_text("away")
    expect(red.locator("#away-message")).to_have_text(re.compile(r"^Yellow left — you can claim the win in \d+ s$"))
    expect(red.locator("#away-detail")).to_contain_text("ends automatically in 10 min")
    expect(red.locator("#claim-button")).to_be_disabled()
    expect(red.locator("#live")).to_contain_text("Yellow left.")
    screenshot(landed(red), "opponent-away")

    yellow.context.set_offline(False)
    expect(yellow.locator("body")).to_have_attribute("data-connected", "true")
    expect(yellow.locator("#notice")).to_be_hidden()
    expect(red.locator("#opponent")).to_have_text("Yellow is connected")
    expect(red.locator("#away-panel")).to_be_hidden()
    expect(red.locator("#live")).to_contain_text("Yellow is back.")

    play(red, yellow, [2, 3, 2, 3], played=3)  # Red's fourth in column 3 wins
    expect(red.locator("#status")).to_have_text("You win!")
    expect(yellow.locator("#status")).to_have_text("Red wins. Good game!")
    for page in (red, yellow):
        expect(page.locator("body")).to_have_attribute("data-result", "win")
        expect(page.locator("#moves li")).to_have_count(7)  # each move listed once, across the reconnect


def test_aborting_right_after_the_opponent_joins(new_page, server):
    red, yellow, _ = start_and_join(new_page, server)
    expect(red.locator("#resign-button")).to_be_hidden()
    abort = red.locator("#abort-button")
    abort.click()
    expect(abort).to_have_text("Really abort?")
    abort.click()

    for page in (red, yellow):
        expect(page.locator("body")).to_have_attribute("data-status", "aborted")
        expect(page.locator("body")).to_have_attribute("data-result", "aborted")
        expect(page.locator("#abort-button")).to_be_hidden()
        expect(page.locator("#rematch-button")).to_have_text("Rematch")  # both were there: they can start over
    expect(red.locator("#status")).to_have_text("You aborted the game.")
    expect(yellow.locator("#status")).to_have_text("Red aborted the game.")
    expect(yellow.locator("#live")).to_contain_text("Red aborted the game.")


def test_a_game_nobody_joined_in_time_expires(new_page, server):
    red = new_page()
    red.goto(server.url + "/")
    red.select_option("#start-seat", "1")  # Red, who moves first (the default is random)
    red.click("#new-game")
    expect(red.locator("#status")).to_contain_text("Waiting for an opponent")
    watcher = new_page()
    watcher.goto(red.url)
    expect(watcher.locator("#you")).to_contain_text("watching")
    # The game was made long ago: the server's next sweep (every 2 s) finds it past the limit.
    game_id = red.url.rstrip("/").rsplit("/", 1)[1]
    with sqlite3.connect(server.env["DATABASE_URL"].removeprefix("sqlite:///")) as db:
        db.execute("UPDATE games_game SET created_at = '2000-01-01 00:00:00' WHERE id = ?", [game_id])
    for page in (red, watcher):
        expect(page.locator("body")).to_have_attribute("data-result", "aborted")
        expect(page.locator("#abort-button")).to_be_hidden()
    expect(red.locator("#status")).to_have_text(
        "Nobody joined in time, so this game has expired. Start a new game to play."
    )
    expect(watcher.locator("#status")).to_have_text("This game has expired: nobody joined in time.")
    expect(watcher.locator("#live")).to_contain_text("This game has expired")


def test_a_game_nobody_joined_can_be_called_off(new_page, server):
    red = new_page()
    red.goto(server.url + "/")
    red.select_option("#start-seat", "1")  # Red, who moves first (the default is random)
    red.click("#new-game")
    expect(red.locator("#status")).to_contain_text("Waiting for an opponent")
    red.click("#abort-button")
    red.click("#abort-button")
    expect(red.locator("body")).to_have_attribute("data-result", "aborted")
    expect(red.locator("#invite")).to_be_hidden()
    expect(red.locator("#rematch-button")).to_be_hidden()  # no opponent to play again
    expect(red.locator("#play-again")).to_be_visible()


def test_claiming_the_win_when_the_opponent_left(new_page, quick_claim_server):
    red, yellow, _ = start_and_join(new_page, quick_claim_server)
    play(red, yellow, [3, 2])

    yellow.close()
    expect(red.locator("#opponent")).to_contain_text("away")
    claim = red.locator("#claim-button")
    expect(red.locator("#away-message")).to_have_text(re.compile(r"^Yellow left — you can claim the win in \d s$"))
    expect(claim).to_be_disabled()
    expect(red.locator("#away-message")).to_have_text("Yellow left — you can claim the win now")
    expect(claim).to_be_enabled()
    claim.click()

    expect(red.locator("#status")).to_have_text("You win! Yellow left the game.")
    expect(red.locator("body")).to_have_attribute("data-result", "abandoned")
    expect(red.locator("#away-panel")).to_be_hidden()
    expect(red.locator("#rematch-button")).to_be_visible()


def test_a_welcome_without_its_events_rebuilds_the_move_list_from_the_api(new_page, server):
    red, yellow, invite = start_and_join(new_page, server)
    play(red, yellow, [3, 2, 3])
    watcher = new_page()
    relay = Relay(watcher)

    def too_far_behind(frame):  # what a client more than 100 events behind gets: the snapshot alone
        if frame["type"] == "welcome":
            frame.update(events=[], complete=False)
        return frame

    relay.to_page = too_far_behind
    watcher.goto(invite)
    expect(watcher.locator("body")).to_have_attribute("data-seq", "5")
    expect(watcher.locator(".cell[data-seat]")).to_have_count(3)
    expect(watcher.locator("#moves li")).to_have_count(3)
    play(red, yellow, [2], watchers=[watcher], played=3)
    expect(watcher.locator("#moves li")).to_have_count(4)  # each move once: from the API, then live
    expect(watcher.locator("#moves li").last).to_have_text("Yellow: column 3")


def test_a_move_cut_off_with_its_connection_is_played_exactly_once(new_page, server):
    red, yellow, _ = start_and_join(new_page, server)
    play(red, yellow, [3])
    relay = Relay(yellow)
    yellow.reload()  # from now on Yellow's socket goes through the relay
    expect(yellow.locator("#status")).to_have_text("Your turn")
    moves = []

    def count_moves(frame):
        if frame["type"] == "move":
            moves.append(frame)
        return frame

    # 1. The connection dies with the move still on its way: after the reconnect it is sent again.
    def lose_the_first_move(frame):
        if count_moves(frame)["type"] == "move" and len(moves) == 1:
            relay.sockets[-1].close(code=4000, reason="cut")
            return None
        return frame

    relay.to_server = lose_the_first_move
    yellow.click('[data-column="2"]')
    both_show(red, yellow, seq=4, moves=2)
    assert [m["column"] for m in moves] == [2, 2]
    assert moves[0]["move_id"] == moves[1]["move_id"]

    # 2. The move arrives but its answer is lost: the welcome shows it was played, so it is not sent again.
    play(red, yellow, [3], played=2)
    relay.to_server = count_moves

    def lose_the_answer(frame):
        if frame["type"] == "ack":
            return None
        if frame["type"] == "move" and frame.get("seat") == 2:
            relay.to_page = lambda frame: frame
            relay.sockets[-1].close(code=4000, reason="cut")
            return None
        return frame

    relay.to_page = lose_the_answer
    yellow.click('[data-column="4"]')
    both_show(red, yellow, seq=6, moves=4)
    expect(red.locator("#status")).to_have_text("Your turn")
    assert len(relay.sockets) == 3  # both cuts were healed by reconnecting
    assert [m["column"] for m in moves] == [2, 2, 4]


def test_a_server_restart_is_explained_and_survived(new_page, server):
    red, yellow, _ = start_and_join(new_page, server)
    relay = Relay(yellow)
    yellow.reload()
    expect(yellow.locator("body")).to_have_attribute("data-connected", "true")

    relay.refusing = True  # the server goes down, saying goodbye with 1001 as a deploy does
    relay.sockets[-1].close(code=1001, reason="server going away")
    expect(yellow.locator("#notice")).to_have_text("Server restarting — reconnecting…")
    expect(yellow.locator("#connection")).to_have_text("Reconnecting…")
    relay.refusing = False
    expect(yellow.locator("body")).to_have_attribute("data-connected", "true")
    expect(yellow.locator("#notice")).to_be_hidden()
    play(red, yellow, [3, 4])
