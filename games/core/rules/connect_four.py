"""Connect Four: 7 columns x 6 rows, discs fall to the lowest free cell, four in a row wins."""

from __future__ import annotations

from dataclasses import dataclass, field

from games.core.rules.base import IllegalMove, Outcome

COLUMNS = 7
ROWS = 6
CONNECT = 4

# Each direction is checked both ways from the new disc: horizontal, vertical, two diagonals.
DIRECTIONS = ((1, 0), (0, 1), (1, 1), (1, -1))


@dataclass(frozen=True)
class Board:
    """Immutable position. ``columns[c]`` lists the seats of the discs in column c, bottom first."""

    columns: tuple[tuple[int, ...], ...] = ((),) * COLUMNS
    outcome: Outcome = field(default_factory=Outcome)
    moves_made: int = 0  # the discs in ``columns``, kept rather than counted: whose turn it is asks often

    @property
    def to_move(self) -> int | None:
        if self.outcome.finished:
            return None
        return 1 if self.moves_made % 2 == 0 else 2

    def cell(self, column: int, row: int) -> int:
        """The seat whose disc is at (column, row), or 0 when empty."""
        stack = self.columns[column]
        return stack[row] if row < len(stack) else 0

    def rows(self) -> list[list[int]]:
        """Rows bottom first, each a list of 7 cells (0 empty, 1 or 2 a seat's disc)."""
        return [[self.cell(c, r) for c in range(COLUMNS)] for r in range(ROWS)]


def _line_through(board: Board, column: int, row: int) -> tuple[tuple[int, int], ...]:
    """The longest same-seat run of at least four through (column, row), or ()."""
    seat = board.cell(column, row)
    for dc, dr in DIRECTIONS:
        run = [(column, row)]
        for sign in (1, -1):
            c, r = column + sign * dc, row + sign * dr
            while 0 <= c < COLUMNS and 0 <= r < ROWS and board.cell(c, r) == seat:
                run.append((c, r))
                c, r = c + sign * dc, r + sign * dr
        if len(run) >= CONNECT:
            return tuple(sorted(run))
    return ()


class ConnectFour:
    """The rules of Connect Four behind the :class:`games.core.rules.base.Rules` interface."""

    kind = "connect4"
    seat_names = {1: "Red", 2: "Yellow"}
    columns = COLUMNS
    rows = ROWS

    def initial_state(self) -> Board:
        return Board()

    def parse_move(self, payload: dict) -> int:
        column = payload.get("column")
        if column is None:
            raise IllegalMove("bad_field", "A move needs a 'column' field.")
        # bool is a subclass of int in Python; true/false is not a column.
        if not isinstance(column, int) or isinstance(column, bool):
            raise IllegalMove("bad_column", "'column' must be a whole number from 0 to 6.")
        if not 0 <= column < COLUMNS:
            raise IllegalMove("bad_column", f"Column {column} is off the board: use 0 to 6.")
        return column

    def apply(self, state: Board, seat: int, column: int) -> tuple[Board, dict]:
        if state.outcome.finished:
            raise IllegalMove("game_over", "The game is over.")
        if seat != state.to_move:
            raise IllegalMove("not_your_turn", "It is not your turn.")
        if not 0 <= column < COLUMNS:
            raise IllegalMove("bad_column", f"Column {column} is off the board: use 0 to 6.")
        row = len(state.columns[column])
        if row >= ROWS:
            raise IllegalMove("column_full", f"Column {column} is full.")
        columns = list(state.columns)
        columns[column] = columns[column] + (seat,)
        board = Board(columns=tuple(columns), moves_made=state.moves_made + 1)
        line = _line_through(board, column, row)
        if line:
            board = Board(board.columns, Outcome(finished=True, winner=seat, line=line), board.moves_made)
        elif board.moves_made == COLUMNS * ROWS:
            board = Board(board.columns, Outcome(finished=True), board.moves_made)
        return board, {"column": column, "row": row}

    def to_move(self, state: Board) -> int | None:
        return state.to_move

    def outcome(self, state: Board) -> Outcome:
        return state.outcome

    def moves_made(self, state: Board) -> int:
        return state.moves_made

    def to_json(self, state: Board) -> dict:
        return {"columns": COLUMNS, "rows": ROWS, "board": state.rows()}
