"""docs/benchmarks.md and docs/images/benchmarks.png, from one run's results.

The page's prose (method, findings) lives in bench/benchmarks.template.md, with
``$placeholders`` for the generated parts, so a rerun refreshes every figure
and keeps every word. The chart is drawn by matplotlib on the Agg backend: no
display needed.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import resource
import string
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import matplotlib
import psutil

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.scenarios import S7_LOADS, Plan, Result

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).with_name("benchmarks.template.md")
DOC = ROOT / "docs" / "benchmarks.md"
CHART = ROOT / "docs" / "images" / "benchmarks.png"

NAMES = {"ours": "ours", "ws-relay": "websockets relay", "channels-relay": "Channels relay"}
COLOURS = {"ours": "#c0392b", "ws-relay": "#2471a3", "channels-relay": "#229954"}
NO_FIGURE = "\u2013"  # an en dash
TIMES = "\u00d7"
PACKAGES = ("Django", "channels", "daphne", "channels-redis", "Twisted", "websockets", "uvloop", "psutil")


def server_name(result: Result) -> str:
    name = NAMES[result.server]
    return f"{name} {TIMES}{result.processes}" if result.processes > 1 else name


# ----- Numbers for people ------------------------------------------------------


def ms(value: float | None) -> str:
    if value is None:
        return NO_FIGURE
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def errors(result: Result) -> str:
    total = sum(result.errors.values())
    if not total:
        return "0"
    return f"{total} ({', '.join(f'{kind}: {count}' for kind, count in result.errors.most_common())})"


def ratio(ours: float | None, theirs: float | None) -> str:
    if not ours or not theirs:
        return NO_FIGURE
    return f"{ours / theirs:.2f}{TIMES}"


def is_flags(result: Result) -> bool:
    return result.scenario.startswith("S5")


def is_pairing(result: Result) -> bool:
    return result.scenario == "S6"


def is_computers(result: Result) -> bool:
    return result.scenario == "S7"


def has_moves(result: Result) -> bool:
    return result.scenario != "S3"


def summary_line(result: Result) -> str:
    """One line per result, printed as the run goes."""
    moves = f"{result.moves_per_second:8,.0f} moves/s" if has_moves(result) else " " * 15
    latency = (
        "p50 {} p99 {} max {} ms".format(*(ms(result.latency_ms(q)) for q in (0.5, 0.99, 1.0)))
        if has_moves(result)
        else ""
    )
    line = (
        f"{result.scenario:5} {result.load:24} {server_name(result):20} {moves}  {latency:34} "
        f"errors {errors(result)}  CPU: server {result.server_cpu:.0f}% generator {result.generator_cpu:.0f}% "
        f"machine {result.machine_cpu:.0f}%  "
        f"RSS {result.rss / 1e6:,.0f} MB ({result.rss_per_socket / 1e3:.1f} KB/socket)"
    )
    if result.computer_moves:
        line += f"\n      the computer: {result.computer_moves / result.seconds:.1f} moves/s"
    if result.flag_lateness or result.flags_missed:
        late = (ms(result.flag_lateness_ms(q)) for q in (0.5, 0.99, 1.0))
        line += "\n      flags: {} at clients, late by p50 {} p99 {} max {} ms".format(len(result.flag_lateness), *late)
        line += ", decided p50 {} p99 {} ms".format(*(ms(result.flag_decided_ms(q)) for q in (0.5, 0.99)))
        line += f", missed {sum(result.flags_missed.values())}" + (
            f" {dict(result.flags_missed)}" if result.flags_missed else ""
        )
    return line


# ----- Tables --------------------------------------------------------------------


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def results_table(results: list[Result]) -> str:
    header = ["Scenario", "Load", "Server", "Moves/s", "p50 ms", "p99 ms", "max ms", "Errors", "Games finished"]
    header += ["Server CPU", "Generator CPU", "Machine CPU", "Server RSS", "RSS/socket"]
    rows = []
    for r in (r for r in results if not is_pairing(r)):
        played = has_moves(r)
        rows.append(
            [
                r.scenario,
                r.load,
                server_name(r),
                f"{r.moves_per_second:,.0f}" if played else NO_FIGURE,
                *(ms(r.latency_ms(q)) for q in (0.5, 0.99, 1.0)),
                errors(r),
                f"{r.games_finished:,}" if played else NO_FIGURE,
                f"{r.server_cpu:.0f}%",
                f"{r.generator_cpu:.0f}%",
                f"{r.machine_cpu:.0f}%",
                f"{r.rss / 1e6:,.0f} MB",
                f"{r.rss_per_socket / 1e3:,.1f} KB",
            ]
        )
    return table(header, rows)


def find(results: list[Result], scenario: str, load: str, server: str) -> Result | None:
    return next((r for r in results if (r.scenario, r.load, r.server) == (scenario, load, server)), None)


def ratios_table(results: list[Result]) -> str:
    """Ours divided by each baseline under the same load. Over 1 is more moves, or more milliseconds or bytes."""
    header = ["Scenario", "Load", "Figure", "÷ websockets relay", "÷ Channels relay"]
    rows = []
    for ours in (r for r in results if r.server == "ours" and not (is_flags(r) or is_pairing(r) or is_computers(r))):
        ws, channels = (find(results, ours.scenario, ours.load, kind) for kind in ("ws-relay", "channels-relay"))
        if has_moves(ours):
            figures = [
                ("moves/s", lambda r: r.moves_per_second),
                ("p50 latency", lambda r: r.latency_ms(0.5)),
                ("p99 latency", lambda r: r.latency_ms(0.99)),
            ]
        else:
            figures = [("RSS/socket", lambda r: r.rss_per_socket)]
        for label, figure in figures:
            cells = [ratio(figure(ours), figure(base)) if base else "n/a" for base in (ws, channels)]
            rows.append([ours.scenario, ours.load, label, *cells])
    return table(header, rows)


def flags_table(results: list[Result]) -> str:
    """S5: from each clock's deadline to its ``timeout`` event at each client, beside the moves' latency."""
    header = ["Scenario", "Load", "Flags at clients", "p50 ms", "p99 ms", "max ms", "Missed", "Moves' p50 ms"]
    header += ["Moves' p99 ms", "Timer: flag decided, p50 / p99 ms"]
    rows = []
    for r in filter(is_flags, results):
        missed = sum(r.flags_missed.values())
        rows.append(
            [
                r.scenario,
                r.load,
                f"{len(r.flag_lateness):,}",
                *(ms(r.flag_lateness_ms(q)) for q in (0.5, 0.99, 1.0)),
                f"{missed} ({', '.join(f'{k}: {n}' for k, n in r.flags_missed.most_common())})" if missed else "0",
                ms(r.latency_ms(0.5)),
                ms(r.latency_ms(0.99)),
                f"{ms(r.flag_decided_ms(0.5))} / {ms(r.flag_decided_ms(0.99))}",
            ]
        )
    return table(header, rows) if rows else "S5 was not part of this run."


def pairing_table(results: list[Result]) -> str:
    """S6: from the second seek of each pair to both seekers told, on one process and on two."""
    header = ["Load", "Server", "Pairs", "p50 ms", "p99 ms", "max ms", "Errors", "Server CPU", "Machine CPU"]
    rows = [
        [
            r.load,
            server_name(r),
            f"{len(r.latencies):,}",
            *(ms(r.latency_ms(q)) for q in (0.5, 0.99, 1.0)),
            errors(r),
            f"{r.server_cpu:.0f}%",
            f"{r.machine_cpu:.0f}%",
        ]
        for r in filter(is_pairing, results)
    ]
    return table(header, rows) if rows else "S6 was not part of this run."


def computers_table(results: list[Result]) -> str:
    """S7: the human games of S1 at G=100, alone and beside games against the computer."""
    header = ["Load", "Moves/s", "p50 ms", "p99 ms", "max ms", "Computer moves/s", "Errors", "Server CPU"]
    header += ["Machine CPU"]
    rows = [
        [
            r.load,
            f"{r.moves_per_second:,.0f}",
            *(ms(r.latency_ms(q)) for q in (0.5, 0.99, 1.0)),
            f"{r.computer_moves / r.seconds:.1f}" if r.computer_moves else "-",
            errors(r),
            f"{r.server_cpu:.0f}%",
            f"{r.machine_cpu:.0f}%",
        ]
        for r in filter(is_computers, results)
    ]
    return table(header, rows) if rows else "S7 was not part of this run."


def targets_table(results: list[Result]) -> str:
    """The issue's four targets for our server, judged on this run's figures."""

    def verdict(met: bool | None) -> str:
        return "not measured" if met is None else "**met**" if met else "**not met**"

    rows = []
    s1 = {(r.server, r.games): r for r in results if r.scenario == "S1"}
    ours, channels = s1.get(("ours", 100)), s1.get(("channels-relay", 100))
    if ours and channels:
        measured = f"{ours.moves_per_second:,.0f} vs {channels.moves_per_second:,.0f} moves/s"
        met = ours.moves_per_second >= channels.moves_per_second
    else:
        measured, met = NO_FIGURE, None
    rows.append(["S1 G=100, one process: moves/s ≥ the naive Channels relay's", measured, verdict(met)])

    s2 = next((r for r in results if r.scenario == "S2" and r.server == "ours"), None)
    if s2:
        p99 = s2.latency_ms(0.99)
        measured = f"p99 {ms(p99)} ms, {sum(s2.errors.values())} errors ({s2.load})"
        met = p99 is not None and p99 <= 25 and not s2.errors
    else:
        measured, met = NO_FIGURE, None
    rows.append(["S2: p99 ≤ 25 ms with no errors", measured, verdict(met)])

    s3 = next((r for r in results if r.scenario == "S3" and r.server == "ours"), None)
    measured = f"{s3.rss_per_socket / 1e3:.1f} KB ({s3.load})" if s3 else NO_FIGURE
    rows.append(["S3: ≤ 25 KB per idle connection", measured, verdict(s3 and s3.rss_per_socket <= 25_000)])

    s4 = next((r for r in results if r.scenario == "S4/S1" and r.server == "ours" and r.games == 100), None)
    if s4 and ours:
        per_process = s4.moves_per_second / s4.processes
        share = per_process / ours.moves_per_second if ours.moves_per_second else 0
        measured = f"{per_process:,.0f} moves/s per process = {share:.0%} of {ours.moves_per_second:,.0f}"
        if s4.server_cpu and ours.server_cpu:  # what a process does with a core of its own, which here it lacks
            per_core, alone = (100 * r.moves_per_second / r.server_cpu for r in (s4, ours))
            measured += f" (per core of server CPU: {per_core:,.0f} vs {alone:,.0f}, {per_core / alone:.0%})"
        met = share >= 0.6
    else:
        measured, met = NO_FIGURE, None
    target = "S4 (G=100): Redis mode keeps ≥ 60% of one in-memory process's S1 throughput, per process"
    rows.append([target, measured, verdict(met)])

    flags = {r.scenario: r for r in results if is_flags(r)}
    human, saturated = flags.get("S5/S2"), flags.get("S5/S1")
    if human:
        p99 = human.flag_lateness_ms(0.99)
        measured = f"p99 {ms(p99)} ms, {sum(human.flags_missed.values())} missed ({human.load})"
        met = p99 is not None and p99 <= 50 and not human.flags_missed
    else:
        measured, met = NO_FIGURE, None
    rows.append(["S5 at human pace: flags fall at the clients with p99 ≤ 50 ms, none missed", measured, verdict(met)])
    if saturated:
        flag_p99, move_p99 = saturated.flag_lateness_ms(0.99), saturated.latency_ms(0.99)
        measured = f"flags p99 {ms(flag_p99)} ms, moves p99 {ms(move_p99)} ms ({saturated.load})"
        met = None not in (flag_p99, move_p99) and flag_p99 <= move_p99 and not saturated.flags_missed
    else:
        measured, met = NO_FIGURE, None
    rows.append(["S5 under S1's saturation (G=100): flags' p99 ≤ the moves' p99", measured, verdict(met)])

    for processes in (1, 2):
        found = next((r for r in results if is_pairing(r) and r.processes == processes), None)
        if found:
            p99 = found.latency_ms(0.99)
            measured = f"p99 {ms(p99)} ms over {len(found.latencies):,} pairs, {sum(found.errors.values())} errors"
            met = p99 is not None and p99 <= 250 and not found.errors
        else:
            measured, met = NO_FIGURE, None
        where = "one process" if processes == 1 else "two processes (Redis + PostgreSQL)"
        rows.append([f"S6 on {where}: pairing p99 ≤ 250 ms at 100 seeks/s", measured, verdict(met)])

    alone, beside = (next((r for r in results if is_computers(r) and r.load == load), None) for load in S7_LOADS)
    if alone and beside and alone.latency_ms(0.99) and beside.latency_ms(0.99):
        rise = beside.latency_ms(0.99) / alone.latency_ms(0.99) - 1
        measured = (
            f"p99 {ms(beside.latency_ms(0.99))} ms beside them vs {ms(alone.latency_ms(0.99))} ms alone "
            f"({rise:+.0%}), the computer making {beside.computer_moves / beside.seconds:.1f} moves/s"
        )
        met = rise <= 0.2 and beside.computer_moves > 0
    else:
        measured, met = NO_FIGURE, None
    rows.append(["S7: S1 at G=100 beside 20 computer games: the human games' p99 rises ≤ 20%", measured, verdict(met)])
    return table(["Target", "Measured", "Verdict"], rows)


def machine_table() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "unknown")
    rows = [
        ["CPU", cpu],
        ["Cores", f"{os.cpu_count()} logical, {psutil.cpu_count(logical=False)} physical"],
        ["RAM", f"{psutil.virtual_memory().total / 2**30:.1f} GiB"],
        ["OS", platform.platform()],
        ["Open files per process", f"{resource.getrlimit(resource.RLIMIT_NOFILE)[0]:,}"],
        ["Python", platform.python_version()],
    ]
    rows += [[package, importlib.metadata.version(package)] for package in PACKAGES]
    return table(["", ""], rows)


def plan_text(plan: Plan) -> str:
    return (
        f"S1 at G = {', '.join(f'{g:,}' for g in plan.saturation_games)}, {plan.saturation_seconds:g} s each; "
        f"S2 with {plan.human_games:,} games for {plan.human_seconds:g} s; "
        f"S3 with {plan.idle_sockets:,} sockets, idle for {plan.idle_seconds:g} s; "
        f"S4 at G = {', '.join(f'{g:,}' for g in plan.scale_out_games)} and S2's size; "
        f"S5 with {plan.flag_games:,} flags in each of S1 at G=100 and S2 with 100 games, "
        f"{plan.flag_seconds:g} s each; S6 with seekers arriving for {plan.pairing_seconds:g} s; "
        f"S7 in {plan.computer_windows} windows of each kind, {plan.saturation_seconds:g} s each. "
        f"Each measured window follows a {plan.warmup_seconds:g} s warm-up."
    )


# ----- The chart ---------------------------------------------------------------


def chart(results: list[Result], path: Path) -> None:
    """S1 and S4's S1: latency percentiles (left) and throughput (right) against concurrent games."""
    series: dict[tuple[str, int], list[Result]] = {}
    for r in results:
        if r.scenario in ("S1", "S4/S1"):
            series.setdefault((r.server, r.processes), []).append(r)
    figure, (latency, throughput) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    for (server, processes), points in series.items():
        points.sort(key=lambda r: r.games)
        games = [r.games for r in points]
        name = server_name(points[0])
        # Two processes: hollow markers. p50: solid line and circles; p99: dotted line and triangles.
        look = {"color": COLOURS[server], "markerfacecolor": "white" if processes > 1 else COLOURS[server]}
        for quantile, line, marker in ((0.5, "-", "o"), (0.99, ":", "^")):
            values = [r.latency_ms(quantile) for r in points]
            latency.plot(games, values, line, marker=marker, label=f"{name} p{quantile * 100:.0f}", **look)
        throughput.plot(games, [r.moves_per_second for r in points], "-", marker="o", label=name, **look)
    for axes, title, unit in (
        (latency, "Move-to-opponent latency (S1)", "milliseconds"),
        (throughput, "Throughput (S1)", "moves per second"),
    ):
        axes.set(xscale="log", yscale="log", title=title, xlabel="concurrent games (G)", ylabel=unit)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def traceback_notes(results: list[Result]) -> list[str]:
    """One note per result whose server logged tracebacks, each distinct exception counted."""
    notes = []
    for r in results:
        if r.tracebacks:
            kinds = ", ".join(f"`{line}` ({count}{TIMES})" for line, count in Counter(r.tracebacks).most_common())
            count = f"{len(r.tracebacks)} traceback{'s' if len(r.tracebacks) > 1 else ''}"
            notes.append(f"{server_name(r)} logged {count} in {r.scenario} ({r.load}): {kinds}")
    return notes


def busy_machine_notes(results: list[Result]) -> list[str]:
    """A note when something besides the servers and the generator took CPU during the windows."""
    cores = os.cpu_count() or 1
    others = [
        r.machine_cpu * cores - r.server_cpu - r.generator_cpu
        for r in results
        if not r.scenario.startswith("S4")  # there Redis and PostgreSQL are meant to work
    ]
    busy = [other for other in others if other > 25]
    if not busy:
        return []
    return [
        f"Other processes were busy: in {len(busy)} of {len(others)} windows outside S4 they took more than "
        f"a quarter of a core (up to {max(busy):.0f}% of one; compare Machine CPU with the rest). "
        "A quiet machine would give higher figures."
    ]


# ----- The page ------------------------------------------------------------------


def write(results: list[Result], notes: list[str], plan: Plan, command: str, started: float, seconds: float) -> None:
    chart(results, CHART)
    page = string.Template(TEMPLATE.read_text()).substitute(
        date=datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%d %H:%M UTC"),
        command=command,
        duration=f"{seconds / 60:.1f} minutes",
        plan=plan_text(plan),
        machine=machine_table(),
        targets=targets_table(results),
        results=results_table(results),
        ratios=ratios_table(results),
        flags=flags_table(results),
        pairing=pairing_table(results),
        computers=computers_table(results),
        notes="\n".join(f"- {note}" for note in [*notes, *busy_machine_notes(results), *traceback_notes(results)]),
    )
    DOC.write_text(page)
