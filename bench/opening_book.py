"""Generate level 5's opening book: games/core/engines/connect_four_book.txt.gz.

python -m bench.opening_book      (make book; a few minutes)

For every position level 5 can meet early in a game, while it follows the book and whatever the
opponent plays, the book holds the move that keeps the position's game-theoretic value and, among
those, wins soonest (or loses latest): as Red up to 10 discs played, as Yellow up to 11. Later on
the engine's own exact search takes over. The values come from bitbully, an exact solver used by
this tool and the tests only (AGPL): what ships is the book, a table of positions and columns
this tool wrote, and the server never imports bitbully.

Each line is ``<key> <column>``: the key of the position (``mine + mask`` on the engine's
bitboards, the side to move's discs and every disc) in hexadecimal, taking of a position and its
mirror image the one with the smaller key (the column is mirrored with it).
"""

from __future__ import annotations

import gzip
import sys
import time

from bitbully import BitBully, Board

from games.core.engines.connect_four import BOOK_PATH, CENTRE_FIRST, book_key, from_board
from games.core.rules import ConnectFour

RULES = ConnectFour()
# The last ply (discs played before the move) the book covers for each seat.
LAST_PLY = {1: 10, 2: 11}


def generate() -> dict[int, int]:
    oracle = BitBully()
    book: dict[int, int] = {}
    seen: set[tuple[int, int]] = set()

    def expand(moves: list[int], board, seat: int) -> None:
        if board.outcome.finished or len(moves) > LAST_PLY[seat]:
            return
        mine, mask, _ = from_board(board)
        if (mine + mask, seat) in seen:
            return  # reached by another order of the same moves: done already
        seen.add((mine + mask, seat))
        if board.to_move == seat:
            scores = oracle.score_all_moves(Board(moves))
            best = max(scores.values())
            column = next(c for c in CENTRE_FIRST if scores.get(c) == best)
            key, mirrored = book_key(mine, mask)
            book[key] = 6 - column if mirrored else column
            expand([*moves, column], RULES.apply(board, seat, column)[0], seat)
        else:
            for column in CENTRE_FIRST:
                if len(board.columns[column]) < 6:
                    expand([*moves, column], RULES.apply(board, board.to_move, column)[0], seat)

    for seat in (1, 2):
        expand([], RULES.initial_state(), seat)
    return book


def main() -> int:
    started = time.time()
    book = generate()
    lines = "".join(f"{key:x} {column}\n" for key, column in sorted(book.items()))
    BOOK_PATH.write_bytes(gzip.compress(lines.encode(), compresslevel=9, mtime=0))  # the same bytes each run
    print(f"wrote {len(book)} positions to {BOOK_PATH.name} in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
