"""Connect Four rules: wins in every direction, the draw, and every illegal move."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from games.core.match import Event, apply_event, decide_join, decide_move, new_match, replay
from games.core.rules import ConnectFour, IllegalMove
from games.core.rules.connect_four import COLUMNS, ROWS

rules = ConnectFour()


def play(columns):
    """Play the columns in turn from the start; return the final board."""
    board = rules.initial_state()
    for column in columns:
        board, _ = rules.apply(board, board.to_move, column)
    return board


# A full board with no four in a row anywhere (columns filled in pairs, shifted).
DRAW_SEQUENCE = [
    *[0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0],
    *[2, 3, 2, 3, 2, 3, 3, 2, 3, 2, 3, 2],
    *[4, 5, 4, 5, 4, 5, 5, 4, 5, 4, 5, 4],
    *[6, 6, 6, 6, 6, 6],
]


@pytest.mark.parametrize(
    ("moves", "line"),
    [
        ([0, 0, 1, 1, 2, 2, 3], [(0, 0), (1, 0), (2, 0), (3, 0)]),  # horizontal
        ([4, 5, 4, 5, 4, 5, 4], [(4, 0), (4, 1), (4, 2), (4, 3)]),  # vertical
        ([0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3], [(0, 0), (1, 1), (2, 2), (3, 3)]),  # diagonal up-right
        ([6, 5, 5, 4, 4, 3, 4, 3, 3, 0, 3], [(3, 3), (4, 2), (5, 1), (6, 0)]),  # diagonal up-left
    ],
    ids=["horizontal", "vertical", "diagonal-up", "diagonal-down"],
)
def test_four_in_a_row_wins_and_is_reported(moves, line):
    board = play(moves)
    assert board.outcome.finished
    assert board.outcome.winner == 1
    assert list(board.outcome.line) == line
    assert board.to_move is None


def test_second_player_can_win():
    board = play([0, 1, 0, 1, 0, 1, 6, 1])
    assert board.outcome.winner == 2
    assert board.outcome.line == ((1, 0), (1, 1), (1, 2), (1, 3))


def test_a_line_of_five_is_reported_whole():
    board = play([0, 0, 1, 1, 3, 3, 4, 4, 2])
    assert board.outcome.line == tuple((c, 0) for c in range(5))


def test_full_board_without_four_is_a_draw():
    board = play(DRAW_SEQUENCE)
    assert board.moves_made == COLUMNS * ROWS
    assert board.outcome.finished and board.outcome.draw
    assert board.outcome.winner is None
    assert board.to_move is None


def test_discs_fall_to_the_lowest_free_cell():
    board = rules.initial_state()
    board, first = rules.apply(board, 1, 3)
    board, second = rules.apply(board, 2, 3)
    assert first == {"column": 3, "row": 0}
    assert second == {"column": 3, "row": 1}
    assert rules.to_json(board)["board"][1][3] == 2


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({}, "bad_field"),
        ({"column": -1}, "bad_column"),
        ({"column": 7}, "bad_column"),
        ({"column": 10**30}, "bad_column"),
        ({"column": 2.5}, "bad_column"),
        ({"column": "3"}, "bad_column"),
        ({"column": True}, "bad_column"),
        ({"column": [3]}, "bad_column"),
    ],
)
def test_malformed_columns_are_refused(payload, code):
    with pytest.raises(IllegalMove) as refusal:
        rules.parse_move(payload)
    assert refusal.value.code == code


def test_full_column_is_refused():
    board = play([2, 2, 2, 2, 2, 2])
    with pytest.raises(IllegalMove) as refusal:
        rules.apply(board, 1, 2)
    assert refusal.value.code == "column_full"


def test_moving_out_of_turn_is_refused():
    board = play([3])
    with pytest.raises(IllegalMove) as refusal:
        rules.apply(board, 1, 4)
    assert refusal.value.code == "not_your_turn"


def test_moving_after_the_end_is_refused():
    board = play([0, 0, 1, 1, 2, 2, 3])
    with pytest.raises(IllegalMove) as refusal:
        rules.apply(board, 2, 5)
    assert refusal.value.code == "game_over"


def test_illegal_moves_leave_the_board_unchanged():
    board = play([2, 2, 2, 2, 2, 2])
    before = rules.to_json(board)
    for seat, column in [(1, 2), (2, 0)]:
        with pytest.raises(IllegalMove):
            rules.apply(board, seat, column)
    assert rules.to_json(board) == before


# ----- Property tests ---------------------------------------------------------


@st.composite
def legal_games(draw):
    """A random sequence of legal moves, stopping at a win, a draw, or a random point."""
    board = rules.initial_state()
    columns = []
    for _ in range(draw(st.integers(0, COLUMNS * ROWS))):
        open_columns = [c for c in range(COLUMNS) if len(board.columns[c]) < ROWS]
        if board.outcome.finished or not open_columns:
            break
        column = draw(st.sampled_from(open_columns))
        board, _ = rules.apply(board, board.to_move, column)
        columns.append(column)
    return columns


@settings(max_examples=300, deadline=None)
@given(legal_games())
def test_random_legal_games_never_corrupt_the_board(columns):
    board = play(columns)
    grid = rules.to_json(board)["board"]
    discs = [cell for row in grid for cell in row if cell]
    # Seats alternate from seat 1, so counts never differ by more than one.
    assert discs.count(1) - discs.count(2) in (0, 1)
    assert len(discs) == len(columns) == board.moves_made
    # Gravity: no gap below a disc.
    for c in range(COLUMNS):
        heights = [grid[r][c] != 0 for r in range(ROWS)]
        assert heights == sorted(heights, reverse=True)
    # A winner exists exactly when a line is reported, and only after the winner's move.
    if board.outcome.winner:
        assert len(board.outcome.line) >= 4
        assert all(grid[r][c] == board.outcome.winner for c, r in board.outcome.line)
        assert board.outcome.winner == (1 if len(columns) % 2 else 2)
    else:
        assert board.outcome.line == ()
    assert board.outcome.finished == (board.outcome.winner is not None or len(columns) == COLUMNS * ROWS)


@settings(max_examples=300, deadline=None)
@given(legal_games())
def test_replaying_the_log_always_gives_the_same_state(columns):
    match = new_match("connect4")
    match = apply_event(match, Event(seq=1, kind="created", seat=1))
    match = apply_event(match, decide_join(match))
    log = [Event(seq=1, kind="created", seat=1), Event(seq=2, kind="joined", seat=2)]
    for column in columns:
        event = decide_move(match, match.turn, {"column": column})
        match = apply_event(match, event)
        log.append(event)
    replayed = replay("connect4", log)
    assert replayed == match
    assert replay("connect4", log) == replayed  # deterministic
    assert replayed.rules.to_json(replayed.board) == rules.to_json(play(columns))
