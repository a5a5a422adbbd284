"""How strong the computer is, measured: the levels against each other and two fixed references,
and level 5's moves checked against an exact solver. Writes docs/strength.md.

python -m bench.strength                 100 games per pairing, colours alternating (about an hour)
python -m bench.strength --games 10      a quick look; prints, writes nothing unless --write
python -m bench.strength --solver-only   only level 5 against the exact solver (a few minutes);
                                         rewrites that section of docs/strength.md

The references: a random mover, and a greedy one that wins when it can, blocks when it must and
otherwise plays at random. Level 5's moves are checked against bitbully, an exact solver (AGPL,
so used here and in the tests only; the server never imports it): a move keeps the position's
value when it is as good as the best move by win, draw or loss.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from games.core.engines.connect_four import LEVELS, _blocking_move, _winning_move, from_board, think
from games.core.rules import ConnectFour

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "strength.md"
RULES = ConnectFour()
REFERENCES = ("random", "greedy")
PLAYERS = (*REFERENCES, *(f"L{level}" for level in LEVELS))
# Each level against the one below it and both references; level 5 against everyone.
PAIRINGS = [
    *[(f"L{level}", f"L{level - 1}") for level in range(2, 6)],
    *[(f"L{level}", reference) for level in LEVELS for reference in REFERENCES],
    *[("L5", f"L{level}") for level in range(1, 4)],
]
# Bands of discs played for level 5 against the solver: the opening (mostly the book), then the
# exact search's hardest stretch in narrow bands, then the rest of the game.
PHASES = (
    ("opening", 4, 11),
    ("12-13", 12, 13),
    ("14-15", 14, 15),
    ("16-17", 16, 17),
    ("18-19", 18, 19),
    ("late", 20, 41),
)
SECTION = "## Level 5 against an exact solver"


def legal(board) -> list[int]:
    return [c for c in range(7) if len(board.columns[c]) < 6]


def choose(player: str, board, budget: float, seed: int) -> tuple[int, float]:
    """A player's column and how long it took."""
    started = time.perf_counter()
    rng = random.Random(seed)
    if player == "random":
        column = rng.choice(legal(board))
    elif player == "greedy":
        mine, mask, _ = from_board(board)
        column = _winning_move(mine, mask)
        if column is None:
            column = _blocking_move(mine, mask)
        if column is None:
            column = rng.choice(legal(board))
    else:
        column = think(board, int(player[1:]), budget, seed).column
    return column, time.perf_counter() - started


def seed_of(*parts) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


@dataclass
class Game:
    red: str
    yellow: str
    winner: str | None  # the player who won, or None for a draw
    moves: int
    level5_seconds: list[float] = field(default_factory=list)


def play(red: str, yellow: str, budget: float, seed: int) -> Game:
    board = RULES.initial_state()
    players = {1: red, 2: yellow}
    timings = []
    while not board.outcome.finished:
        player = players[board.to_move]
        column, seconds = choose(player, board, budget, seed_of(seed, board.moves_made))
        if player == "L5":
            timings.append(seconds)
        board, _ = RULES.apply(board, board.to_move, column)
    winner = board.outcome.winner
    return Game(red, yellow, None if winner is None else players[winner], board.moves_made, timings)


def _play_job(job: tuple[str, str, float, int]) -> Game:
    return play(*job)


@dataclass
class Pairing:
    first: str
    second: str
    games: list[Game]

    def wins(self, player: str, as_red: bool | None = None) -> int:
        return sum(1 for g in self.games if g.winner == player and (as_red is None or (g.red == player) == as_red))

    @property
    def draws(self) -> int:
        return sum(1 for g in self.games if g.winner is None)


def play_pairings(games: int, budget: float, workers: int) -> list[Pairing]:
    jobs, keys = [], []
    for first, second in PAIRINGS:
        for index in range(games):
            red, yellow = (first, second) if index % 2 == 0 else (second, first)
            jobs.append((red, yellow, budget, seed_of(first, second, index)))
            keys.append((first, second))
    results: dict[tuple[str, str], list[Game]] = {pair: [] for pair in PAIRINGS}
    with ProcessPoolExecutor(workers) as pool:
        for key, game in zip(keys, pool.map(_play_job, jobs, chunksize=4), strict=True):
            results[key].append(game)
    return [Pairing(first, second, results[first, second]) for first, second in PAIRINGS]


# ----- Level 5 against the exact solver -------------------------------------------------------


def positions(per_phase: int) -> list[tuple[str, list[int]]]:
    """Fixed positions (the same every run) from games of levels 2 and 3, which are repeatable:
    their moves depend on the seed alone. None is over or offers a win in one."""
    found: dict[str, list[list[int]]] = {name: [] for name, _, _ in PHASES}
    game = 0
    while any(len(found[name]) < per_phase for name, _, _ in PHASES):
        game += 1
        board, moves = RULES.initial_state(), []
        players = {1: "L2", 2: "L3"} if game % 2 else {1: "L3", 2: "L2"}
        while not board.outcome.finished:
            mine, mask, _ = from_board(board)
            phase = next((name for name, low, high in PHASES if low <= board.moves_made <= high), None)
            wanted = phase is not None and len(found[phase]) < per_phase and seed_of(game, len(moves)) % 3 == 0
            if wanted and _winning_move(mine, mask) is None:
                found[phase].append(list(moves))
            column, _ = choose(players[board.to_move], board, 0, seed_of("positions", game, board.moves_made))
            board, _ = RULES.apply(board, board.to_move, column)
            moves.append(column)
    return [(name, moves) for name, _, _ in PHASES for moves in found[name]]


def _check_job(job: tuple[str, list[int], float, bool]) -> tuple[str, bool, bool, float]:
    from bitbully import BitBully, Board  # the oracle: tools and tests only

    from games.core.engines.connect_four import _BOUNDS

    phase, moves, budget, cpu_clock = job
    if cpu_clock:  # the engine's deadlines (and these timings) on this process's own processor time
        time.perf_counter = time.process_time
    _BOUNDS.clear()  # each position from cold, as a fresh worker: nothing kept from the last one
    board = RULES.initial_state()
    for column in moves:
        board, _ = RULES.apply(board, board.to_move, column)
    started = time.perf_counter()
    choice = think(board, 5, budget, seed_of("check", *moves))
    seconds = time.perf_counter() - started
    scores = BitBully().score_all_moves(Board(moves))
    sign = lambda score: (score > 0) - (score < 0)  # noqa: E731
    kept = sign(scores[choice.column]) == max(sign(score) for score in scores.values())
    if not kept:  # worth a look: the moves (columns from 1) and what level 5 played
        print(f"value lost after {''.join(str(c + 1) for c in moves)}: played {choice.column + 1}", flush=True)
    return phase, kept, choice.exact, seconds


@dataclass
class Band:
    """Level 5's moves in one band of discs played: how many kept the value, how many the exact
    search chose, and the seconds each took."""

    positions: int = 0
    kept: int = 0
    exact: int = 0
    seconds: list[float] = field(default_factory=list)


def check_level5(per_phase: int, budget: float, workers: int, cpu_clock: bool = False) -> dict[str, Band]:
    """Level 5 in ``per_phase`` positions of each band. With ``cpu_clock`` its budget is counted in
    processor time, not on the wall clock: what it would do on a machine of its own, however busy
    this one is."""
    jobs = [(phase, moves, budget, cpu_clock) for phase, moves in positions(per_phase)]
    tally = {name: Band() for name, _, _ in PHASES}
    with ProcessPoolExecutor(workers) as pool:
        for phase, kept, exact, seconds in pool.map(_check_job, jobs):
            band = tally[phase]
            band.positions += 1
            band.kept += kept
            band.exact += exact
            band.seconds.append(seconds)
    return tally


# ----- Report ----------------------------------------------------------------------------------


def percent(part: int, whole: int) -> str:
    return f"{100 * part // whole}%" if whole else "-"  # rounded down: 299 of 300 is not 100%


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def report(pairings: list[Pairing], checks: dict, games: int, budget: float, seconds: float) -> str:
    lines = [
        "# How strong the computer is",
        "",
        "Generated by `make strength` (`python -m bench.strength`); do not edit by hand. "
        f"{games} games per pairing, colours alternating; level 4 and 5 think at most {budget:g} s a move, "
        f"as the server's default. The run took {seconds / 60:.0f} minutes on this machine.",
        "",
        "| Pairing | Games | First wins | Of them as Red | Second wins | Draws | First's share |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for pairing in pairings:
        a, b = pairing.first, pairing.second
        wins_a = pairing.wins(a)
        lines.append(
            f"| {name(a)} vs {name(b)} | {len(pairing.games)} | {wins_a} | {pairing.wins(a, as_red=True)} "
            f"| {pairing.wins(b)} | {pairing.draws} | {percent(wins_a, len(pairing.games))} |"
        )
    below = [p for p in pairings if p.second == f"L{int(p.first[1:]) - 1}"] if pairings else []
    level5_red = [p for p in pairings if p.first == "L5"]
    red_games = sum(1 for p in level5_red for g in p.games if g.red == "L5")
    red_wins = sum(p.wins("L5", as_red=True) for p in level5_red)
    timings = [s for p in pairings for g in p.games for s in g.level5_seconds]
    lines += [
        "",
        "Targets: each level beats the one below it in at least 75% of games: "
        + "; ".join(
            f"{name(p.first)} {percent(p.wins(p.first), len(p.games))}"
            + (" (met)" if p.wins(p.first) >= 0.75 * len(p.games) else " (not met)")
            for p in below
        )
        + f". Level 5 as Red wins every game against every other level and both references: "
        f"{red_wins} of {red_games}" + (" (met)." if red_wins == red_games else " (not met)."),
        "",
        f"Level 5's time per move over these games ({len(timings)} moves): p50 {quantile(timings, 0.5):.3f} s, "
        f"p99 {quantile(timings, 0.99):.3f} s, the longest {max(timings, default=0):.3f} s "
        f"(target: p99 at most 1 s){' (met)' if quantile(timings, 0.99) <= 1 else ' (not met)'}.",
        "",
    ]
    return "\n".join(lines) + "\n" + solver_section(checks, budget)


def solver_section(checks: dict[str, Band], budget: float, note: str = "", cpu_clock: bool = False) -> str:
    """The section on level 5 against the exact solver: per band of discs played, the moves that
    kept the value, those the exact search chose, and the time per move."""
    lines = [
        SECTION,
        "",
        "The share of level 5's moves that keep the position's game-theoretic value (win, draw or loss), "
        "on a fixed set of positions from games between levels 2 and 3, checked by bitbully. Level 5 has "
        f"{budget:g} s a move, as the server's default"
        + (
            " (counted in its process's processor time, `--cpu-clock`: what it does with a core of its own)"
            if cpu_clock
            else ""
        )
        + ", and meets each position from cold (nothing kept from "
        "an earlier search, as a fresh worker process; in a game it keeps what it learnt on its last move)."
        + (f" {note}" if note else ""),
        "",
        "| Discs played | Positions | Value kept | Chosen by the exact search | Time p50 | p99 | Longest |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for phase, low, high in PHASES:
        band = checks[phase]
        span = f"{low} to {high}" if high < 41 else f"{low} or more"
        lines.append(
            f"| {span} | {band.positions} | {band.kept} ({percent(band.kept, band.positions)}) "
            f"| {percent(band.exact, band.positions)} | {quantile(band.seconds, 0.5):.3f} s "
            f"| {quantile(band.seconds, 0.99):.3f} s | {max(band.seconds, default=0):.3f} s |"
        )
    later = [checks[phase] for phase, low, _ in PHASES if low >= 12]
    total, kept = sum(b.positions for b in later), sum(b.kept for b in later)
    seconds = [s for b in later for s in b.seconds]
    lines += [
        "",
        f"Target: 100% from 12 discs on: {kept} of {total} ({percent(kept, total)})"
        + (" (met)." if kept == total else " (not met).")
        + f" Time per move there: p50 {quantile(seconds, 0.5):.3f} s, p99 {quantile(seconds, 0.99):.3f} s, "
        f"the longest {max(seconds, default=0):.3f} s (target: at most the budget, {budget:g} s, "
        "plus 0.1 s for unwinding)" + (" (met)." if max(seconds, default=0) <= budget + 0.1 else " (not met)."),
        "",
    ]
    return "\n".join(lines)


def name(player: str) -> str:
    if player in REFERENCES:
        return {"random": "Random mover", "greedy": "Greedy reference"}[player]
    level = int(player[1:])
    return f"Level {level} ({LEVELS[level]})"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.strength", description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=100, help="games per pairing (default: %(default)s)")
    parser.add_argument("--positions", type=int, default=60, help="positions per band (default: %(default)s)")
    parser.add_argument("--budget", type=float, default=0.9, help="seconds a move at levels 4-5 (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default: %(default)s)")
    parser.add_argument("--write", action="store_true", help="write docs/strength.md even with --games under 100")
    parser.add_argument(
        "--solver-only", action="store_true", help="only level 5 against the solver: rewrite that section of the doc"
    )
    parser.add_argument("--note", default="", help="with --solver-only: a sentence on this run, put in the doc")
    parser.add_argument(
        "--cpu-clock",
        action="store_true",
        help="with --solver-only: level 5's budget in processor time (busy machines)",
    )
    args = parser.parse_args(argv)
    started = time.time()
    checks = check_level5(args.positions, args.budget, args.workers, args.solver_only and args.cpu_clock)
    if args.solver_only:
        section = solver_section(checks, args.budget, args.note, args.cpu_clock)
        print(section)
        text = DOC.read_text()
        DOC.write_text(text[: text.index(SECTION)] + section)
        print(f"rewrote the solver section of {DOC.relative_to(ROOT)} in {time.time() - started:.0f} s")
        return 0
    pairings = play_pairings(args.games, args.budget, args.workers)
    text = report(pairings, checks, args.games, args.budget, time.time() - started)
    print(text)
    if args.games >= 100 or args.write:
        DOC.write_text(text)
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
