"""The Connect Four engine on its own: wins in one, blocks a loss in one, never plays an illegal
move at any level, stays within its budget, and at level 5 keeps the value of every position it
is shown from 12 discs on (and every one with 20 or more), as an exact solver of its own
(bitbully, in the tests only) has it."""

import random
import time

import pytest
from bitbully import BitBully
from bitbully import Board as OracleBoard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from games.core.engines import ENGINES
from games.core.engines.connect_four import _BOUNDS, LEVELS, Search, _winning_move, from_board, think
from games.core.rules import ConnectFour
from tests.test_rules import play

rules = ConnectFour()
engine = ENGINES["connect4"]
oracle = BitBully()


def legal(board):
    return [c for c in range(7) if len(board.columns[c]) < 6]


def random_position(rng, discs):
    """A position reached by ``discs`` random moves that is not over and offers no win in one."""
    while True:
        board, moves = rules.initial_state(), []
        for _ in range(discs):
            column = rng.choice(legal(board))
            board, _ = rules.apply(board, board.to_move, column)
            moves.append(column)
            if board.outcome.finished:
                break
        if board.outcome.finished:
            continue
        if any(rules.apply(board, board.to_move, c)[0].outcome.finished for c in legal(board)):
            continue
        return board, moves


# Red has three on the bottom row (columns 0-2); Yellow three in column 6, and it is Red's move.
RED_TO_WIN = [0, 6, 1, 6, 2, 6]
# Red to move, Yellow threatens column 6 (three stacked there), Red has no win of its own.
RED_MUST_BLOCK = [0, 6, 3, 6, 5, 6]


@pytest.mark.parametrize("level", [2, 3, 4, 5])
def test_every_level_but_the_beginner_takes_a_win_in_one(level):
    for seed in range(5):
        assert engine.choose(play(RED_TO_WIN), level, 0.2, seed) == {"column": 3}


@pytest.mark.parametrize("level", [3, 4, 5])
def test_the_stronger_levels_block_a_loss_in_one(level):
    for seed in range(5):
        assert engine.choose(play(RED_MUST_BLOCK), level, 0.2, seed) == {"column": 6}


def test_the_beginner_sometimes_misses_a_win_in_one():
    chosen = {engine.choose(play(RED_TO_WIN), 1, 0.2, seed)["column"] for seed in range(40)}
    assert 3 in chosen and len(chosen) > 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), discs=st.integers(0, 40), level=st.sampled_from(sorted(LEVELS)))
def test_from_any_position_every_level_returns_a_legal_move_within_its_budget(seed, discs, level):
    board, _ = random_position(random.Random(seed), discs)
    if not legal(board):
        return
    budget = 0.05
    started = time.perf_counter()
    move = engine.choose(board, level, budget, seed)
    took = time.perf_counter() - started
    assert move["column"] in legal(board)
    rules.apply(board, board.to_move, move["column"])  # the rules accept it
    # The search stops at its deadline; a little over is setting up and unwinding, never seconds.
    assert took < budget + 0.5


def test_the_same_position_and_seed_give_the_same_move():
    board, _ = random_position(random.Random(7), 10)
    for level in LEVELS:
        assert engine.choose(board, level, 5, 11) == engine.choose(board, level, 5, 11)


def oracle_scores(moves):
    return oracle.score_all_moves(OracleBoard(moves))


def keeps_the_value(moves, column):
    """The move is as good as the best move by win, draw or loss (not by how soon)."""
    scores = oracle_scores(moves)
    sign = lambda score: (score > 0) - (score < 0)  # noqa: E731
    return sign(scores[column]) == max(sign(score) for score in scores.values())


# Positions from random play (seeded, so always the same) with 20 to 34 discs.
LATE_POSITIONS = [random_position(random.Random(1000 + i), 20 + i % 15) for i in range(40)]


@pytest.mark.parametrize(("board", "moves"), LATE_POSITIONS, ids=[f"p{i}" for i in range(len(LATE_POSITIONS))])
def test_level_five_keeps_the_value_of_every_position_with_twenty_discs_or_more(board, moves):
    choice = think(board, 5, 5.0, 1)
    assert choice.exact, "the exact search finishes this late in the game"
    assert keeps_the_value(moves, choice.column)


def test_the_exact_search_agrees_with_the_oracle_on_win_draw_or_loss():
    for board, moves in LATE_POSITIONS[:20]:
        mine, mask, played = from_board(board)
        value = Search().solve(mine, mask, played, -1, 1)
        best = max(oracle_scores(moves).values())
        assert (value > 0) - (value < 0) == (best > 0) - (best < 0)


def test_the_shipped_opening_book_is_what_its_generator_writes_today():
    """The book is data this project makes (bench/opening_book.py): the file shipped is exactly
    what the generator makes now, so it cannot drift from the engine's keys or the solver."""
    from bench.opening_book import generate
    from games.core.engines.connect_four import opening_book

    assert generate() == opening_book()


def test_every_book_move_level_five_plays_as_red_keeps_the_value_along_random_games():
    rng = random.Random(5)
    for game in range(30):
        board, moves = rules.initial_state(), []
        while not board.outcome.finished and len(moves) <= 11:
            if board.to_move == 1 + game % 2:  # level 5 plays Red in even games, Yellow in odd
                choice = think(board, 5, 0.5, game)
                if len(moves) <= (10 if board.to_move == 1 else 11):
                    assert choice.exact and keeps_the_value(moves, choice.column), moves
                column = choice.column
            else:
                column = rng.choice(legal(board))
            board, _ = rules.apply(board, board.to_move, column)
            moves.append(column)


# The server's default budget (GAME_COMPUTER_THINK_SECONDS).
SERVER_BUDGET = 0.9


@pytest.fixture
def own_core(monkeypatch):
    """The engine's deadlines counted in this process's processor time: what level 5 does with a
    core of its own, however busy the machine running the tests is (docs/strength.md measures it
    on the wall clock)."""
    from types import SimpleNamespace

    from games.core.engines import connect_four

    monkeypatch.setattr(connect_four, "time", SimpleNamespace(perf_counter=time.process_time))
    _BOUNDS.clear()  # and from cold, as a fresh worker process


def test_level_five_as_yellow_takes_the_win_it_once_let_slip_at_fifteen_discs(own_core):
    """After 3 4 3 3 3 4 4 4 5 5 4 5 2 5 5 (columns from 1) Yellow wins with 1, 2 or 5; 6 only
    draws."""
    moves = [int(c) - 1 for c in "343334445545255"]
    winning = {c for c, score in oracle_scores(moves).items() if score > 0}
    assert winning == {0, 1, 4}
    choice = think(play(moves), 5, SERVER_BUDGET, 1)
    assert choice.column in winning


def middle_game_positions(count, seed):
    """Positions with 12 to 16 discs from seeded games between levels 2 and 3 (each side's level
    drawn per game), none over or offering a win in one: where the exact search has the least
    time to spare (past 16 discs it finishes in a fraction of the budget)."""
    rng, found = random.Random(seed), []
    while len(found) < count:
        board, moves = rules.initial_state(), []
        levels = {1: rng.choice([2, 3]), 2: rng.choice([2, 3])}
        target = rng.randint(12, 16)
        while not board.outcome.finished and len(moves) < target:
            column = think(board, levels[board.to_move], 0, rng.randrange(2**32)).column
            board, _ = rules.apply(board, board.to_move, column)
            moves.append(column)
        mine, mask, _ = from_board(board)
        if not board.outcome.finished and _winning_move(mine, mask) is None:
            found.append((board, moves))
    return found


def test_level_five_keeps_the_value_of_every_middle_game_position_within_the_server_budget(own_core):
    """From 12 discs on, level 5's move keeps the position's value (as bitbully has it) with the
    server's default budget, and it moves within that budget (the deadline is checked every few
    hundred positions searched: a little over is unwinding, never a tenth of a second more)."""
    lost, seconds = [], []
    for board, moves in middle_game_positions(48, 29):
        _BOUNDS.clear()
        started = time.process_time()
        column = think(board, 5, SERVER_BUDGET, 3).column
        seconds.append(time.process_time() - started)
        if not keeps_the_value(moves, column):
            lost.append(("".join(str(c + 1) for c in moves), column + 1))
    p99 = sorted(seconds)[round(0.99 * (len(seconds) - 1))]
    print(f"level 5 in {len(seconds)} positions: p99 {p99:.3f} s, longest {max(seconds):.3f} s")
    assert lost == []
    assert max(seconds) < SERVER_BUDGET + 0.1
