"""A Connect Four opponent at five strengths, on bitboards.

The position is two integers: ``mine`` (the side to move's discs) and ``mask`` (every disc).
Column c holds bits c*7 .. c*7+5, bottom first; bit c*7+6 stays empty, so that shifting a
line across a column edge never joins two columns. The exact search is a negamax with
alpha-beta over moves that do not lose at once, a transposition table, threat-first move
ordering and rules of zugzwang (answering in the same column) that settle many positions
without searching them, in the manner of the well-known Connect Four solvers; the lower levels are that
search cut short (with an evaluation at the horizon) or simple rules of thumb with mistakes
thrown in on purpose.
"""

from __future__ import annotations

import functools
import gzip
import random
import time
from dataclasses import dataclass
from pathlib import Path

from games.core.rules.connect_four import COLUMNS, ROWS, Board

HEIGHT1 = ROWS + 1
SIZE = COLUMNS * ROWS
BOTTOM = sum(1 << (c * HEIGHT1) for c in range(COLUMNS))
FULL = BOTTOM * ((1 << ROWS) - 1)
COLUMN_MASKS = tuple(((1 << ROWS) - 1) << (c * HEIGHT1) for c in range(COLUMNS))
CENTRE_FIRST = (3, 2, 4, 1, 5, 0, 6)
# Every cell's row, 0 at the bottom: threats on odd rows (counted from 1) favour Red, even Yellow.
ODD_ROWS = sum(1 << (c * HEIGHT1 + r) for c in range(COLUMNS) for r in range(0, ROWS, 2))
CENTRE = COLUMN_MASKS[3]
NEAR_CENTRE = COLUMN_MASKS[2] | COLUMN_MASKS[4]
WIN = 1000  # scores above this are wins found by search, the sooner the higher

LEVELS = {1: "Beginner", 2: "Casual", 3: "Club player", 4: "Strong", 5: "Expert"}
# Level 5's opening book (made by bench/opening_book.py): the best move in every early position it
# can meet while it follows the book, whatever the opponent plays.
BOOK_PATH = Path(__file__).with_name("connect_four_book.txt.gz")


class OutOfTime(Exception):
    """The search reached its deadline; the caller falls back on what it already knows."""


def from_board(board: Board) -> tuple[int, int, int]:
    """The rules' board as (mine, mask, discs played), ``mine`` being the side to move's discs."""
    mine = mask = 0
    to_move = 1 if board.moves_made % 2 == 0 else 2
    for c, stack in enumerate(board.columns):
        for r, seat in enumerate(stack):
            bit = 1 << (c * HEIGHT1 + r)
            mask |= bit
            if seat == to_move:
                mine |= bit
    return mine, mask, board.moves_made


def mirrored(discs: int) -> int:
    """The same discs with the columns in reverse order."""
    return sum(((discs >> (c * HEIGHT1)) & 0x7F) << ((COLUMNS - 1 - c) * HEIGHT1) for c in range(COLUMNS))


def book_key(mine: int, mask: int) -> tuple[int, bool]:
    """A position's key in the opening book, and whether it is its mirror image's (a position and
    its mirror share one entry, the smaller key)."""
    key, mirror_key = mine + mask, mirrored(mine) + mirrored(mask)
    return (mirror_key, True) if mirror_key < key else (key, False)


@functools.cache
def opening_book() -> dict[int, int]:
    """Key -> column, read once per process; empty if the book is missing."""
    if not BOOK_PATH.exists():
        return {}
    book = {}
    for line in gzip.decompress(BOOK_PATH.read_bytes()).decode().splitlines():
        key, column = line.split()
        book[int(key, 16)] = int(column)
    return book


def book_move(mine: int, mask: int) -> int | None:
    key, mirror = book_key(mine, mask)
    column = opening_book().get(key)
    if column is None:
        return None
    return COLUMNS - 1 - column if mirror else column


def winning_cells(discs: int, mask: int) -> int:
    """The empty cells where one more disc would make four in a row for ``discs``."""
    r = (discs << 1) & (discs << 2) & (discs << 3)  # vertical: only upwards
    for s in (HEIGHT1, HEIGHT1 - 1, HEIGHT1 + 1):  # horizontal and both diagonals
        p = (discs << s) & (discs << 2 * s)
        r |= p & (discs << 3 * s)
        r |= p & (discs >> s)
        p = (discs >> s) & (discs >> 2 * s)
        r |= p & (discs << s)
        r |= p & (discs >> 3 * s)
    return r & (FULL ^ mask)


def playable(mask: int) -> int:
    """The cell each column would take next (the lowest empty one)."""
    return (mask + BOTTOM) & FULL


def column_of(move: int) -> int:
    return (move.bit_length() - 1) // HEIGHT1


def moves_of(cells: int) -> list[int]:
    """One bit per column present in ``cells``, centre first."""
    return [cells & COLUMN_MASKS[c] for c in CENTRE_FIRST if cells & COLUMN_MASKS[c]]


def non_losing(mine: int, mask: int) -> int:
    """Moves that neither leave an open win to the opponent nor play under one of its winning cells."""
    possible = playable(mask)
    theirs = winning_cells(mine ^ mask, mask)
    forced = possible & theirs
    if forced:
        if forced & (forced - 1):
            return 0  # two to block: every move loses
        possible = forced
    return possible & ~(theirs >> 1)


def evaluate(mine: int, mask: int, moves: int) -> int:
    """A guess at a position nobody has won, for the side to move: threats (those on rows that
    suit their owner count more), then discs in the centre."""
    theirs = mine ^ mask
    my_cells, their_cells = winning_cells(mine, mask), winning_cells(theirs, mask)
    red_to_move = moves % 2 == 0
    my_good = ODD_ROWS if red_to_move else ~ODD_ROWS
    their_good = ~ODD_ROWS if red_to_move else ODD_ROWS
    score = 8 * (my_cells.bit_count() - their_cells.bit_count())
    score += 6 * ((my_cells & my_good).bit_count() - (their_cells & their_good).bit_count())
    score += 3 * ((mine & CENTRE).bit_count() - (theirs & CENTRE).bit_count())
    score += (mine & NEAR_CENTRE).bit_count() - (theirs & NEAR_CENTRE).bit_count()
    return score


# Every cell on an even row (counted from 1 at the bottom): the rows Yellow gets by answering
# each of Red's moves in the same column.
EVEN_ROWS = FULL & ~ODD_ROWS
# The exact search's bounds on win, draw or loss, kept between searches in a worker process: a
# bound holds whatever search found it, so a game's next move starts from what this one learnt.
# Each entry is (lower + 1) * 3 + (upper + 1), the bounds being -1 (loss), 0 (draw) or 1 (win).
_BOUNDS: dict[int, int] = {}
LOWER_OF = (-1, -1, -1, 0, 0, 0, 1, 1, 1)
UPPER_OF = (-1, 0, 1, -1, 0, 1, -1, 0, 1)
REMEMBERED = 1_000_000  # positions kept at most (about 100 MB); then forgotten, all at once
BY_CENTRE = tuple((COLUMN_MASKS[c], 7 - i) for i, c in enumerate(CENTRE_FIRST))
COLUMN_OF_CELL = {1 << (c * HEIGHT1 + r): COLUMN_MASKS[c] for c in range(COLUMNS) for r in range(ROWS)}
CENTRE_COLUMNS = tuple(COLUMN_MASKS[c] for c in CENTRE_FIRST)
# Past this many discs the exact search tries the centre first without counting threats: the
# subtrees are small, and counting costs more than the positions it saves.
ORDER_UNTIL = 34


def has_four(discs: int) -> bool:
    """Whether ``discs`` hold four in a row anywhere (written out: the search asks it often)."""
    pairs = discs & (discs >> 1)  # vertical
    if pairs & (pairs >> 2):
        return True
    pairs = discs & (discs >> 7)  # horizontal
    if pairs & (pairs >> 14):
        return True
    pairs = discs & (discs >> 6)  # one diagonal
    if pairs & (pairs >> 12):
        return True
    pairs = discs & (discs >> 8)  # the other
    return bool(pairs & (pairs >> 16))


def _exact(deadline: float | None, counter: list[int]):
    """The exact search, written out for speed in pure Python (local names, no method calls on
    the way down): ``solve(mine, mask, moves, alpha, beta)`` -> -1, 0 or 1 for the side to move,
    who cannot win at once. Fails soft outside the window; a null window (0, 1) or (-1, 0) asks one
    yes-or-no question ("a win?", "a loss?"), the cheapest search."""
    bounds, perf_counter = _BOUNDS, time.perf_counter

    def threats(discs: int, empty: int) -> int:  # winning_cells, unrolled, on pairs of discs
        r = (discs << 1) & (discs << 2) & (discs << 3)
        pairs = discs & (discs >> 7)  # a disc and the next one along the line
        r |= (pairs >> 7) & ((pairs >> 14) | (discs << 7))
        r |= (pairs << 14) & ((pairs << 21) | (discs >> 7))
        pairs = discs & (discs >> 6)
        r |= (pairs >> 6) & ((pairs >> 12) | (discs << 6))
        r |= (pairs << 12) & ((pairs << 18) | (discs >> 6))
        pairs = discs & (discs >> 8)
        r |= (pairs >> 8) & ((pairs >> 16) | (discs << 8))
        r |= (pairs << 16) & ((pairs << 24) | (discs >> 8))
        return r & empty

    def solve(mine: int, mask: int, moves: int, alpha: int, beta: int, their_threats: int = -1) -> int:
        counter[0] += 1
        if not counter[0] & 255 and deadline is not None and perf_counter() > deadline:
            raise OutOfTime
        theirs, empty = mine ^ mask, FULL ^ mask
        possible = (mask + BOTTOM) & FULL
        next_cells = possible
        if their_threats < 0:  # else the caller counted them to order its moves
            their_threats = threats(theirs, empty)
        forced = possible & their_threats
        if forced:
            if forced & (forced - 1):
                return -1  # two to block
            possible = forced
        possible &= ~(their_threats >> 1)  # never under the opponent's winning cell
        if not possible:
            return -1
        if moves >= SIZE - 2:
            return 0
        # Zugzwang, as far as a strategy of answering in the same column settles it. In a column
        # of even height the mover's opponent can answer every disc with one on top: the mover
        # then gets the odd-row cells left there, the opponent the even-row ones. Columns of odd
        # height (their next cell on an even row) the opponent pairs up: a disc in one of a pair
        # it answers in the other, leaving both even. Red to move has an even number of them:
        # if Red cannot make four on the odd-row cells and those next cells, Red cannot win, and
        # if Yellow then has four on the even-row cells above them, Yellow wins. Yellow to move
        # has an odd number: one left unpaired, where Red answering on top means Yellow must at
        # last play just under Red's lowest winning cell on an odd row there (the classic odd
        # threat), if Red has one; if Yellow cannot make four on the cells left to it, Red wins.
        odd_next = next_cells & EVEN_ROWS
        if moves & 1:
            winning = their_threats & ODD_ROWS
            if winning:
                cells = odd_next
                while cells:
                    cell = cells & -cells
                    cells ^= cell
                    column = COLUMN_OF_CELL[cell]
                    red_there = winning & column
                    if red_there:
                        lowest = red_there & -red_there
                        red_sure = (EVEN_ROWS & ~odd_next & ~column) | (ODD_ROWS & column & ((lowest << 1) - 1))
                        if not has_four(mine | (empty & ~red_sure)):
                            return -1
        elif not has_four(mine | (empty & ODD_ROWS) | odd_next):
            if has_four(theirs | (empty & EVEN_ROWS & ~odd_next)):
                return -1
            if beta > 0:
                beta = 0
                if alpha >= 0:
                    return 0
        key = mine + mask
        entry = bounds.get(key)
        if entry is None:
            low, high = -1, 1
        else:
            low, high = LOWER_OF[entry], UPPER_OF[entry]
            if low >= beta:
                return low
            if high <= alpha:
                return high
            if low > alpha:
                alpha = low
            if high < beta:
                beta = high
        window_low, best, after = alpha, -1, moves + 1
        if possible & (possible - 1) and moves < ORDER_UNTIL:
            # The moves that make the most new threats first, the centre first among equals; but
            # first a move whose outcome is known well enough already to settle this position.
            # (One integer sorts them: eight times the threats, plus the column's centre rank.)
            scored = []
            for column, rank in BY_CENTRE:
                move = possible & column
                if move:
                    known = bounds.get(theirs + (mask | move))
                    if known is not None and -UPPER_OF[known] >= beta:
                        return -UPPER_OF[known]
                    made = threats(mine | move, empty ^ move)
                    scored.append((made.bit_count() * 8 + rank, move, made))
            scored.sort(reverse=True)
            for _, move, made in scored:
                score = -solve(theirs, mask | move, after, -beta, -alpha, made)
                if score > best:
                    best = score
                    if score > alpha:
                        alpha = score
                        if score >= beta:
                            break
        elif not possible & (possible - 1):  # one move: no order to choose
            best = -solve(theirs, mask | possible, after, -beta, -alpha)
        else:
            for column in CENTRE_COLUMNS:
                move = possible & column
                if move:
                    score = -solve(theirs, mask | move, after, -beta, -alpha)
                    if score > best:
                        best = score
                        if score > alpha:
                            alpha = score
                            if score >= beta:
                                break
        if best <= window_low:
            if best < high:
                high = best
        elif best >= beta:
            if best > low:
                low = best
        else:
            low = high = best
        bounds[key] = (low + 1) * 3 + high + 1
        return best

    return solve


class Search:
    """One search, with its deadline; the exact search's bounds are shared (see ``_BOUNDS``)."""

    def __init__(self, deadline: float | None = None):
        self.deadline = deadline
        self.counter = [0]
        if len(_BOUNDS) > REMEMBERED:
            _BOUNDS.clear()
        self.solve = _exact(deadline, self.counter)

    @property
    def nodes(self) -> int:
        return self.counter[0]

    def _tick(self) -> None:
        self.counter[0] += 1
        if self.deadline is not None and self.counter[0] & 255 == 0 and time.perf_counter() > self.deadline:
            raise OutOfTime

    @staticmethod
    def _ordered(mine: int, mask: int, moves: int) -> list[int]:
        """Moves that make the most new threats first; centre first among equals."""
        scored = [((winning_cells(mine | m, mask | m)).bit_count(), -i, m) for i, m in enumerate(moves_of(moves))]
        scored.sort(reverse=True)
        return [m for _, _, m in scored]

    def guess(self, mine: int, mask: int, moves: int, depth: int, alpha: int, beta: int) -> int:
        """Like :meth:`solve`, but looks only ``depth`` moves ahead and guesses beyond."""
        self._tick()
        possible = non_losing(mine, mask)
        if not possible:
            return -(WIN + SIZE - moves)
        if moves >= SIZE - 2:
            return 0
        if depth == 0:
            return evaluate(mine, mask, moves)
        theirs = mine ^ mask
        best = -(WIN + SIZE)
        for move in self._ordered(mine, mask, possible):
            score = -self.guess(theirs, mask | move, moves + 1, depth - 1, -beta, -alpha)
            if score > best:
                best = score
                if score > alpha:
                    alpha = score
                    if alpha >= beta:
                        break
        return best


@dataclass
class Choice:
    column: int
    exact: bool = False  # chosen by a finished exact search (keeps the position's value)


def _winning_move(mine: int, mask: int) -> int | None:
    cells = playable(mask) & winning_cells(mine, mask)
    return column_of(moves_of(cells)[0]) if cells else None


def _blocking_move(mine: int, mask: int) -> int | None:
    cells = playable(mask) & winning_cells(mine ^ mask, mask)
    return column_of(moves_of(cells)[0]) if cells else None


def _legal(mask: int) -> list[int]:
    return [column_of(m) for m in moves_of(playable(mask))]


def _centre_weighted(columns: list[int], rng: random.Random) -> int:
    weights = [4 - abs(c - 3) for c in columns]
    return rng.choices(columns, weights)[0]


def _searched(
    mine: int, mask: int, moves: int, depth: int, rng: random.Random, deadline: float | None
) -> list[tuple[int, int]]:
    """(score, column) for every move that does not lose at once, best first, looking ``depth``
    moves ahead; raises OutOfTime at ``deadline``."""
    search = Search(deadline)
    candidates = moves_of(non_losing(mine, mask)) or moves_of(playable(mask))
    theirs, scored = mine ^ mask, []
    for move in candidates:
        score = -search.guess(theirs, mask | move, moves + 1, depth - 1, -(WIN + SIZE), WIN + SIZE)
        scored.append((score, column_of(move)))
    rng.shuffle(scored)  # equal scores: any of them, not always the same
    scored.sort(key=lambda pair: -pair[0])
    return scored


def _deepening(
    mine: int, mask: int, moves: int, rng: random.Random, deadline: float, max_depth: int = SIZE
) -> list[tuple[int, int]]:
    """Look 2, 4, 6... moves ahead until ``deadline`` or ``max_depth``: the ranking from the deepest
    look that finished (the first always does: it is quick)."""
    scored = _searched(mine, mask, moves, 2, rng, None)
    depth = 4
    while depth <= min(max_depth, SIZE - moves) and abs(scored[0][0]) < WIN:  # a forced result: seen
        try:
            scored = _searched(mine, mask, moves, depth, rng, deadline)
        except OutOfTime:
            break
        depth += 2
    return scored


def rule_of_thumb(mine: int, mask: int, moves: int, level: int, rng: random.Random) -> int:
    """Levels 1 and 2: a player who sees some of what is on the board, and misses the rest."""
    win = _winning_move(mine, mask)
    if level == 1:
        if win is not None and rng.random() < 0.6:
            return win
        if rng.random() < 0.5:
            return rng.choice(_legal(mask))
        return _centre_weighted(_legal(mask), rng)
    if win is not None:
        return win
    block = _blocking_move(mine, mask)
    if block is not None and rng.random() < 0.9:
        return block
    safe = [column_of(m) for m in moves_of(playable(mask) & ~(winning_cells(mine ^ mask, mask) >> 1))]
    return _centre_weighted(safe or _legal(mask), rng)


def think(board: Board, level: int, budget_s: float, seed: int) -> Choice:
    """The computer's move at ``level`` in a position that is not over."""
    rng = random.Random(seed)
    mine, mask, moves = from_board(board)
    win = _winning_move(mine, mask)
    if level <= 2:
        return Choice(rule_of_thumb(mine, mask, moves, level, rng))
    if win is not None:
        return Choice(win, exact=True)
    safe = moves_of(non_losing(mine, mask))
    if len(safe) <= 1:  # forced, or lost whatever it plays
        return Choice(column_of(safe[0]) if safe else rng.choice(_legal(mask)), exact=True)
    if level == 3:
        scored = _searched(mine, mask, moves, 2, rng, None)
        # A club player mostly finds the best move it sees, sometimes settles for the second.
        pick = 1 if len(scored) > 1 and rng.random() < 0.25 and scored[1][0] > -WIN else 0
        return Choice(scored[pick][1])
    if level == 4:  # no book, exact only near the end, a shorter look ahead
        return _expert(mine, mask, moves, safe, budget_s, rng, book=False, exact_from=STRONG_EXACT_FROM, max_depth=8)
    return _expert(mine, mask, moves, safe, budget_s, rng)


# Below this many discs (past the book) the exact search rarely finishes in time: the whole budget
# goes to looking ahead. Level 4 only tries it this late.
EXACT_FROM = 12
STRONG_EXACT_FROM = 18
# The share of the budget the exact search may take; the rest is for looking ahead should it not
# finish, or to put the latest loss first should every move lose (the first look, two moves
# ahead, takes milliseconds).
EXACT_SHARE = 0.9


def _solved(mine: int, mask: int, moves: int, safe: list[int], search: Search) -> int | None:
    """A column that keeps the position's value (win, draw or loss), or None if every move loses.
    The position is asked "a win?", then if not "a loss?": yes-or-no questions, far cheaper than
    the value itself, and its own search orders the moves best. Its bounds then answer at once
    which move achieves it."""
    value = search.solve(mine, mask, moves, 0, 1)
    if value <= 0:
        value = 0 if search.solve(mine, mask, moves, -1, 0) >= 0 else -1
    if value < 0:
        return None
    theirs = mine ^ mask
    for move in Search._ordered(mine, mask, sum(safe)):
        if -search.solve(theirs, mask | move, moves + 1, -value, 1 - value) >= value:
            return column_of(move)
    raise AssertionError("no move keeps the value the search found")  # pragma: no cover


def _proved_losing(mine: int, mask: int, safe: list[int]) -> set[int]:
    """The columns the exact search's bounds (so far) prove to lose."""
    theirs, losing = mine ^ mask, set()
    for move in safe:
        entry = _BOUNDS.get(theirs + (mask | move))
        if entry is not None and LOWER_OF[entry] > 0:
            losing.add(column_of(move))
    return losing


def _expert(
    mine: int,
    mask: int,
    moves: int,
    safe: list[int],
    budget_s: float,
    rng: random.Random,
    book: bool = True,
    exact_from: int = EXACT_FROM,
    max_depth: int = SIZE,
) -> Choice:
    """Level 5: in the opening, the book's move; then solve the position and keep its value. If
    most of the budget runs out first, the deepest look ahead it finishes in the rest decides,
    among the moves not proved to lose. Level 4 is the same without the book, solving only late,
    looking less far ahead."""
    start = time.perf_counter()
    if book and (column := book_move(mine, mask)) is not None:
        return Choice(column, exact=True)
    if moves >= exact_from:
        try:
            column = _solved(mine, mask, moves, safe, Search(start + budget_s * EXACT_SHARE))
            if column is not None:
                return Choice(column, exact=True)
            # Every move loses: the look ahead below puts the latest loss it sees first.
            ranked = _deepening(mine, mask, moves, rng, start + budget_s, max_depth)
            return Choice(ranked[0][1], exact=True)
        except OutOfTime:
            pass
    ranked = _deepening(mine, mask, moves, rng, start + budget_s, max_depth)
    losing = _proved_losing(mine, mask, safe) if moves >= exact_from else set()
    not_lost = [column for _, column in ranked if column not in losing]
    return Choice(not_lost[0] if not_lost else ranked[0][1])


class ConnectFourEngine:
    """The computer behind :class:`games.core.engines.base.Engine` for Connect Four."""

    kind = "connect4"
    levels = LEVELS

    def choose(self, state: Board, level: int, budget_s: float, seed: int) -> dict:
        return {"column": think(state, level, budget_s, seed).column}
