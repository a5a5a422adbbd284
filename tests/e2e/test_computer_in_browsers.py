"""Play the computer in a real browser: the home page's card starts the game, the person plays
it to the end by clicking columns, and the computer's moves arrive over the socket by themselves
(when it plays Red, it opens without anyone doing anything)."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_play_in_browsers import LAPTOPS
from tests.servers import Daphne, prepare

LEVEL_1 = "Computer · level 1, Beginner"
THINKING = "The computer is thinking…"
# How a finished game reads to the person who played it (static/js/game/words/outcome.js).
RESULT = re.compile(r"^(You win!|The computer wins\. Good game!|Draw: the board is full\.)$")
# A computer's move takes its pause (up to 1.2 s at level 5 at the natural pace) plus, for the
# first move of a server, the start of the engine's worker process.
COMPUTER_MOVE_MS = 15_000
# The person opens at the edge and then answers on top of the computer's last disc, or, when that
# column is full, in the first free one from the middle out: a long game, whoever wins, with
# full columns on the way (stacking the middle would beat level 1 in seven moves every time).
PREFERENCE = [3, 2, 4, 1, 5, 0, 6]

# Every text the status line shows, in order, kept on the page: a brief "thinking" is seen
# however quickly the computer answers, and no test waits on the clock to catch it.
RECORD_STATUS = """
window.statusSeen = [];
document.addEventListener('DOMContentLoaded', () => {
  const status = document.getElementById('status');
  if (!status) return;
  const note = () => {
    const text = status.textContent;
    if (window.statusSeen[window.statusSeen.length - 1] !== text) window.statusSeen.push(text);
  };
  note();
  new MutationObserver(note).observe(status, { childList: true, characterData: true, subtree: true });
  // And whether the board was the person's to play at each seq it showed, as [seq, "true"|"false"].
  window.playableSeen = [];
  const board = document.getElementById('board');
  const notePlayable = () => {
    const seen = [Number(document.body.dataset.seq), board.dataset.canPlay];
    const last = window.playableSeen[window.playableSeen.length - 1];
    if (!last || last[0] !== seen[0] || last[1] !== seen[1]) window.playableSeen.push(seen);
  };
  if (board) {
    notePlayable();
    new MutationObserver(notePlayable).observe(board, { attributes: true, attributeFilter: ['data-can-play'] });
    new MutationObserver(notePlayable).observe(document.body, { attributes: true, attributeFilter: ['data-seq'] });
  }
});
"""


@pytest.fixture(scope="module")
def quick_computer_server(tmp_path_factory):
    """A server of its own whose computer pauses a fifth of the natural time, so a whole game
    takes seconds; the moves still come over the socket after a pause, as ever. Play now offers
    the computer after a second without an opponent."""
    workdir = tmp_path_factory.mktemp("e2e-computer")
    env = prepare(workdir, GAME_COMPUTER_PACE="0.2", GAME_SEEK_OFFER_COMPUTER_AFTER_SECONDS="1")
    daphne = Daphne(env, workdir / "daphne.log").start()
    yield daphne
    daphne.stop()


def start_computer_game(new_page, server, seat: str, level: str = "1", time_control: str = "untimed", **page_options):
    """The person picks the level, the colour and the time control on the home page's card and
    presses Play the computer; the game page opens with the person in the chosen seat."""
    page = new_page(**page_options)
    page.add_init_script(RECORD_STATUS)
    page.goto(server.url + "/")
    card = page.get_by_role("region", name="Play the computer")
    card.get_by_label("Level").select_option(level)
    card.get_by_label("You play").select_option(seat)
    card.get_by_label("Time control").select_option(time_control)
    expect(page.locator("#computer-level")).to_have_value(level)
    expect(page.locator("#computer-seat")).to_have_value(seat)
    expect(page.locator("#computer-time-control")).to_have_value(time_control)
    page.click("#play-computer")
    expect(page).to_have_url(re.compile(r"/g/[2-9A-HJ-NP-Z]{8}/$"))
    expect(page.locator("body")).to_have_attribute("data-connected", "true")
    expect(page.locator("body")).to_have_attribute("data-status", re.compile("playing|finished"))
    return page


def seq(page) -> int:
    return int(page.locator("body").get_attribute("data-seq"))


def discs(page, seat: int | None = None):
    """The discs on the board (of one seat, if given)."""
    return page.locator("#board [data-cell][data-seat]" if seat is None else f'#board [data-cell][data-seat="{seat}"]')


def expect_no_two_player_furniture(page) -> None:
    """Nothing of a game between two people: no invite, no Join, no away banner or Claim button."""
    expect(page.locator("#invite")).to_be_hidden()
    expect(page.locator("#invite-qr")).to_have_count(0)
    expect(page.locator("#join-card")).to_have_count(0)
    expect(page.locator("#away-panel")).to_be_hidden()
    expect(page.locator("#claim-button")).to_be_hidden()
    expect(page.locator("#notice")).to_be_hidden()


def test_a_whole_game_against_the_computer_with_clocks(new_page, quick_computer_server, screenshot):
    page = start_computer_game(new_page, quick_computer_server, seat="1", time_control="3+2")
    # A timed game: both clocks beside the board, the computer's as well as the person's.
    expect(page.locator("#clocks")).to_be_visible()
    expect(page.locator("#clock-control")).to_have_text("3+2")
    for seat in (1, 2):
        expect(page.locator(f"#clock-time-{seat}")).to_have_text("3:00")
    body = page.locator("body")
    status = page.locator("#status")
    expect(page.locator("#you")).to_have_text("You are Red (seat 1)")
    expect(status).to_have_text("Your turn")
    expect(page.locator("#player-2 .player-state")).to_have_text(LEVEL_1)
    expect(page.locator("#player-1 .player-state")).to_have_text("connected")
    expect(page.locator("#opponent")).to_have_text("You are playing the computer (level 1)")
    expect(page.locator("#moves-empty")).to_be_visible()
    expect(discs(page)).to_have_count(0)
    expect_no_two_player_furniture(page)
    screenshot(page, "computer-game-start")

    # The person's turn (the page's own state says so: the board is playable) or the end.
    mine_or_over = page.locator('body[data-status="finished"], #board[data-can-play="true"]')
    moves = 0
    while True:
        expect(mine_or_over).to_have_count(1, timeout=COMPUTER_MOVE_MS)
        if body.get_attribute("data-status") == "finished":
            break
        expect(status).to_have_text("Your turn")
        before = seq(page)
        # The board is the person's to play: each column that is not full says so.
        free = page.locator('#board .column[aria-disabled="false"]')
        columns = {int(c) for c in free.evaluate_all("(buttons) => buttons.map((b) => b.dataset.column)")}
        assert columns, "the person's turn, but no column is free"
        last = page.locator("#board .cell.last")  # the computer's newest disc, as the board marks it
        answer = int(last.get_attribute("data-cell").split(",")[0]) if last.count() else 0
        column = answer if answer in columns else next(c for c in PREFERENCE if c in columns)
        page.click(f"#column-{column}")
        moves += 1
        # The person's disc arrives as the server's event, never before (the computer may have
        # answered by the time the page is looked at: its event follows, so seq is at least this).
        expect(page.locator(f"#moves li[data-seq='{before + 1}']")).to_have_text(f"Red: column {column + 1}")
        assert seq(page) >= before + 1
        expect(discs(page, 1)).to_have_count(moves)
        if body.get_attribute("data-status") == "playing" or seq(page) > before + 1:
            # The computer's turn: the board was not the person's until its disc was in (recorded
            # on the page, since the computer may have answered already).
            shown = page.evaluate(f"window.playableSeen.filter(([s]) => s === {before + 1}).map(([, c]) => c)")
            assert shown and set(shown) == {"false"}, (before + 1, shown)
        assert moves <= 21, "more moves than a board holds"

    expect(body).to_have_attribute("data-result", re.compile("^(win|draw)$"))  # not on time: neither ran out
    for seat in (1, 2):  # both clocks stopped with time left, the increments added
        expect(page.locator(f"#clock-time-{seat}")).to_have_text(re.compile(r"^[23]:\d\d$"))
    expect(status).to_have_text(RESULT)
    expect(page.locator(".status-bar")).to_have_attribute("data-result", re.compile("^(win|loss|draw)$"))
    expect(page.locator("#game-over")).to_be_visible()
    on_board = discs(page).count()
    expect(page.locator("#moves li")).to_have_count(on_board)
    assert on_board >= 7
    print(f"the game ended {body.get_attribute('data-result')} after {on_board} discs: {status.text_content()}")
    # Red moved first, so Red has as many discs as Yellow or one more.
    red, yellow = discs(page, 1).count(), discs(page, 2).count()
    assert red == moves and red - yellow in (0, 1), (red, yellow, moves)
    expect(page.locator("#moves li").first).to_contain_text("Red: column")
    expect(page.locator("#moves li").nth(1)).to_contain_text("Yellow: column")
    if body.get_attribute("data-result") == "win":
        winner = "1" if status.text_content() == "You win!" else "2"
        # The winning run is marked: four or more in a row, all the winner's.
        line = page.locator("#board .cell.win")
        expect(line.first).to_be_attached()
        assert 4 <= line.count() <= 7, line.count()
        for cell in line.all():
            expect(cell).to_have_attribute("data-seat", winner)
    # Each of the computer's turns said so on the status line before its disc came.
    seen = page.evaluate("window.statusSeen")
    assert seen.count(THINKING) == yellow, seen
    expect(page.locator("#player-2 .player-state")).to_have_text(LEVEL_1)
    expect(page.locator("#player-2 .player-name")).to_contain_text("Yellow")
    expect(page.locator("#player-1 .tag")).to_be_visible()
    expect(page.locator("#player-2 .tag")).to_be_hidden()
    expect(page.locator("#opponent")).to_have_text("You are playing the computer (level 1)")
    expect_no_two_player_furniture(page)
    expect(page.locator("#resign-button")).to_be_hidden()
    screenshot(page, "computer-game-over")


def test_the_computer_opens_when_it_plays_red(new_page, server, screenshot):
    """At the natural pace: nobody touches the board, yet Red's disc appears, then it is the person's turn."""
    page = start_computer_game(new_page, server, seat="2")
    expect(page.locator("#you")).to_have_text("You are Yellow (seat 2)")
    expect(page.locator("#player-1 .player-state")).to_have_text(LEVEL_1)
    expect(page.locator("#opponent")).to_have_text("You are playing the computer (level 1)")

    expect(discs(page, 1)).to_have_count(1, timeout=COMPUTER_MOVE_MS)
    expect(discs(page)).to_have_count(1)
    expect(page.locator("#status")).to_have_text("Your turn")
    expect(page.locator("body")).to_have_attribute("data-status", "playing")
    expect(page.locator("#board")).to_have_attribute("data-can-play", "true")
    # Red's opening disc is at the bottom of its column, and the move list has it.
    expect(page.locator('#board [data-cell$=",0"][data-seat="1"]')).to_have_count(1)
    expect(page.locator("#moves li")).to_have_count(1)
    expect(page.locator("#moves li").first).to_contain_text(re.compile(r"^Red: column [1-7]$"))
    # The page said the computer was thinking before its disc came (the pause is 0.5 s at least).
    seen = page.evaluate("window.statusSeen")
    assert THINKING in seen and seen.index(THINKING) < seen.index("Your turn"), seen
    expect_no_two_player_furniture(page)
    screenshot(page, "computer-opens-as-red")


def test_every_line_about_the_computer_names_it(new_page, quick_computer_server, screenshot):
    """Against the computer its seat is "the computer", never its colour: on the status line while
    it thinks, in what a screen reader hears of its moves, and in the result when the person resigns."""
    page = start_computer_game(new_page, quick_computer_server, seat="1")
    page.click("#column-3")
    expect(discs(page, 2)).to_have_count(1, timeout=COMPUTER_MOVE_MS)
    expect(page.locator("#live")).to_contain_text(re.compile(r"The computer played column [1-7]\. Your turn\."))
    expect(page.locator("#live")).not_to_contain_text("Yellow played")
    assert THINKING in page.evaluate("window.statusSeen")

    resign = page.locator("#resign-button")
    resign.click()
    expect(resign).to_have_text("Really resign?")
    resign.click()
    body = page.locator("body")
    expect(body).to_have_attribute("data-status", "finished")
    expect(body).to_have_attribute("data-result", "resigned")
    expect(page.locator("#status")).to_have_text("You resigned — the computer wins.")
    expect(page.locator("#live")).to_contain_text("You resigned — the computer wins.")
    expect(page.locator("#live")).not_to_contain_text("Yellow wins")
    screenshot(page, "computer-resigned")


OFFER = "Nobody with this time control has come yet. You can play the computer instead, or keep waiting."


def test_play_now_offers_the_computer_once_at_the_level_the_seeker_picks(new_page, quick_computer_server, screenshot):
    """Nobody came: the seek page says so once, offers the computer at level 3 to begin with, and the
    game starts at the level picked, with the seek's time control."""
    page = new_page(viewport={"width": 1280, "height": 800})
    page.goto(quick_computer_server.url + "/")
    page.select_option("#play-time-control", "5+0")
    page.click("#play-now")
    expect(page).to_have_url(re.compile(r"/play/[2-9A-HJ-NP-Z]{12}/$"))
    offer = page.locator("#computer-offer")
    expect(offer).to_be_visible()
    expect(page.locator("#seek-status")).to_have_text(OFFER)
    expect(page.get_by_text("play the computer instead")).to_have_count(1)  # said once, not twice
    level = offer.get_by_label("Level")
    expect(level).to_have_value("3")
    expect(level.locator("option")).to_have_text([re.compile(rf"^{n} · ") for n in range(1, 6)])
    screenshot(page, "seek-offers-the-computer")
    level.select_option("5")
    page.click("#play-computer")
    expect(page).to_have_url(re.compile(r"/g/[2-9A-HJ-NP-Z]{8}/$"))
    expect(page.locator("body")).to_have_attribute("data-connected", "true")
    expect(page.locator("#opponent")).to_have_text("You are playing the computer (level 5)")
    expect(page.locator("#clock-control")).to_have_text("5+0")


@pytest.mark.parametrize("screen", LAPTOPS)
def test_play_again_after_the_computer_is_the_same_game_colours_swapped(new_page, quick_computer_server, screen):
    """Not an untimed invite to a friend: the computer again, at the same level and time control,
    the colours swapped as in a rematch (so now it opens), from the one Play again button."""
    page = start_computer_game(
        new_page, quick_computer_server, seat="1", level="3", time_control="5+0", **LAPTOPS[screen]
    )
    first = page.url
    page.click('[data-column="0"]')
    expect(discs(page)).to_have_count(2, timeout=COMPUTER_MOVE_MS)  # both have moved: resigning is allowed
    resign = page.locator("#resign-button")
    resign.click()
    resign.click()
    expect(page.locator("body")).to_have_attribute("data-status", "finished")
    again = page.locator("#play-again")
    expect(again).to_have_text("Play again")
    expect(page.locator("#play-again-hint")).to_have_text(
        "The computer again: level 3 (Club player), 5+0, you play Yellow."
    )
    expect(page.locator("#rematch-button")).to_be_hidden()  # Play again is the rematch: one button
    again.click()
    expect(page).not_to_have_url(first)
    expect(page).to_have_url(re.compile(r"/g/[2-9A-HJ-NP-Z]{8}/$"))
    expect(page.locator("#you")).to_have_text("You are Yellow (seat 2)")
    expect(page.locator("#clock-control")).to_have_text("5+0")
    expect(page.locator("#opponent")).to_contain_text("level 3")
    expect(discs(page, 1)).to_have_count(1, timeout=COMPUTER_MOVE_MS)  # the computer, Red now, opens
    expect(page.locator("#status")).to_have_text("Your turn")
    game = page.request.get(page.url.replace("/g/", "/api/games/").rstrip("/")).json()
    assert game["computer"] == {"seat": 1, "level": 3, "name": "Club player"}
    assert game["clock"]["time_control"] == "5+0"
