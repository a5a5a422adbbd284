"""The scenarios S1-S4, the measured window they share, and the plan of one run.

S1 saturation: G games, every seat answering at once. S2 human pace: many games,
every seat pausing about a second. S3 idle capacity: sockets opened and left
alone. S4 scale-out: S1 and S2 against two processes on Redis + PostgreSQL, the
two seats of every game on different processes. S5 clocks: S1 at G=100 and the
quick S2 on our server, with timed games running out meanwhile, to time how late
a flag falls. S6 pairing: strangers seeking a game (Play now) at a steady rate,
on one process and on two. S7 computer: S1 at G=100 on our server, alone and with
games against the computer thinking beside it. Every scenario runs against a
freshly started deployment of each server.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import psutil

from bench import loadgen
from bench.servers import (
    ALONE,
    Backing,
    Deployment,
    create_timed_games,
    deployed,
    postgres_database,
    redis_database,
    scale_out_backends,
)


@dataclass(frozen=True)
class Plan:
    """How big and how long each scenario is in one mode of the tool."""

    saturation_games: tuple[int, ...]
    saturation_seconds: float
    human_games: int
    human_seconds: float
    idle_sockets: int
    idle_seconds: float
    warmup_seconds: float
    scale_out_games: tuple[int, ...]
    flag_games: int = 0  # S5: timed games left to run out on our server, in each of its two loads
    flag_seconds: float = 0  # S5: the length of each of its two windows
    pairing_seconds: float = 0  # S6: how long seekers keep arriving, PAIRING_RATE a second
    computer_windows: int = 0  # S7: measured windows of each kind (alone, beside the computer), alternating


QUICK = Plan(  # under 3 minutes in all, on a 2-core machine
    saturation_games=(1, 100),
    saturation_seconds=3,
    human_games=100,
    human_seconds=4,
    idle_sockets=2000,
    idle_seconds=1.5,
    warmup_seconds=1,
    scale_out_games=(100,),
    flag_games=100,
    flag_seconds=6,
    pairing_seconds=4,
    computer_windows=2,
)
FULL = Plan(
    saturation_games=(1, 100, 1000),
    saturation_seconds=30,
    human_games=2000,
    human_seconds=60,
    idle_sockets=10_000,
    idle_seconds=20,
    warmup_seconds=5,
    scale_out_games=(100, 1000),
    flag_games=400,
    flag_seconds=30,
    pairing_seconds=20,
    computer_windows=3,
)
SMOKE = Plan(  # S1 only
    saturation_games=(10,),
    saturation_seconds=5,
    human_games=0,
    human_seconds=0,
    idle_sockets=0,
    idle_seconds=0,
    warmup_seconds=1,
    scale_out_games=(),
)
SCENARIOS = ("S1", "S2", "S3", "S4", "S5", "S6", "S7")
PAIRING_RATE = 100  # S6: seeks a second
FLAG_CLOCK_MS = 1000  # an S5 flag game's clock: short enough to run out well inside a window
FLAG_LOAD_GAMES = 100  # S5's load: S1 at G=100, and the quick S2 (100 games at human pace)
COMPUTER_GAMES, COMPUTER_LEVEL = 20, 5  # S7: games against the computer beside S1 at G=100
S7_LOADS = ("G=100 alone", f"G=100 + {COMPUTER_GAMES} computer games")


@dataclass
class Result:
    """One scenario against one server: every figure the report shows."""

    scenario: str  # S1, S2, S3, S4/S1 or S4/S2
    load: str  # what was applied, for people: "G=100", "250 games", "2,000 sockets"
    games: int  # concurrent games (S3: games whose seats are connected)
    sockets: int
    server: str  # a deployment kind, see bench.servers.KINDS
    processes: int
    seconds: float  # length of the measured window
    latencies: list[float]  # seconds, one per move seen by the opponent inside the window
    errors: Counter
    games_finished: int
    server_cpu: float  # % of one core, all server processes together
    generator_cpu: float  # % of one core
    machine_cpu: float  # % of all cores, everything on the machine
    rss: int  # bytes, all server processes together, at the end of the window
    rss_per_socket: float  # bytes: (RSS at the end - RSS before connecting) / sockets
    tracebacks: list[str]  # the exception line of each, as the servers logged them
    flag_lateness: list[float] = field(default_factory=list)  # seconds from a clock's deadline to its timeout
    flags_missed: Counter = field(default_factory=Counter)  # flag games that never showed a timeout, by cause
    flag_decided: list[float] = field(default_factory=list)  # seconds from a deadline to its timeout's own `at`
    computer_moves: int = 0  # S7: the computer's moves that reached its opponent inside the window

    @property
    def moves_per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @cached_property
    def _ordered(self) -> list[float]:
        return sorted(self.latencies)

    def latency_ms(self, quantile: float) -> float | None:
        """Nearest-rank percentile (1.0 is the maximum), in milliseconds; None without samples."""
        return _percentile_ms(self._ordered, quantile)

    def flag_lateness_ms(self, quantile: float) -> float | None:
        return _percentile_ms(sorted(self.flag_lateness), quantile)

    def flag_decided_ms(self, quantile: float) -> float | None:
        return _percentile_ms(sorted(self.flag_decided), quantile)


def _percentile_ms(ordered: list[float], quantile: float) -> float | None:
    if not ordered:
        return None
    return 1000 * ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]


@dataclass
class Window:
    """What the servers and the machine did during the measured window."""

    seconds: float
    server_cpu: float
    generator_cpu: float
    machine_cpu: float
    rss: int
    tracebacks: list[str]  # logged by the servers so far; teardown's noise (sends to sockets just closed) comes later


class Stopwatch:
    """CPU time of the servers and the generator, and the machine's load, from now to ``window()``."""

    def __init__(self, deployment: Deployment):
        self.deployment = deployment
        self.server_before, self.generator_before = deployment.cpu_seconds(), time.process_time()
        psutil.cpu_percent()  # the next call reports the machine's load since this one
        self.started = time.perf_counter()

    def window(self) -> Window:
        elapsed = time.perf_counter() - self.started
        return Window(
            seconds=elapsed,
            server_cpu=100 * (self.deployment.cpu_seconds() - self.server_before) / elapsed,
            generator_cpu=100 * (time.process_time() - self.generator_before) / elapsed,
            machine_cpu=psutil.cpu_percent(),
            rss=self.deployment.rss(),
            tracebacks=self.deployment.tracebacks(),
        )


async def measure(deployment: Deployment, recorder: loadgen.Recorder, seconds: float) -> Window:
    """Let the load run for ``seconds`` with the recorder on, reading CPU time before and after."""
    stopwatch = Stopwatch(deployment)
    recorder.measuring = True
    await asyncio.sleep(seconds)
    recorder.measuring = False
    return stopwatch.window()


def _result(
    scenario: str,
    load: str,
    games: int,
    sockets: int,
    deployment: Deployment,
    window: Window,
    recorder: loadgen.Recorder,
    rss_before: int,
) -> Result:
    return Result(
        scenario=scenario,
        load=load,
        games=games,
        sockets=sockets,
        server=deployment.kind,
        processes=len(deployment.processes),
        seconds=window.seconds,
        latencies=recorder.latencies,
        errors=recorder.errors,
        games_finished=recorder.games_finished,
        server_cpu=window.server_cpu,
        generator_cpu=window.generator_cpu,
        machine_cpu=window.machine_cpu,
        rss=window.rss,
        rss_per_socket=(window.rss - rss_before) / sockets if sockets else 0.0,
        tracebacks=window.tracebacks,
    )


async def play(
    deployment: Deployment, scenario: str, games: int, plan: Plan, human: bool, flag_games: int = 0
) -> Result:
    """S1 (``human`` false) or S2: keep ``games`` going, warm up, then measure.

    With ``flag_games`` (S5, our server only), also time how late flags fall: that many timed games
    start while the load runs, spread over the warm-up and the window, and each lets its clock run
    out; the last flag falls before the load stops.
    """
    recorder, flags = loadgen.Recorder(), loadgen.FlagRecorder()
    timed = create_timed_games(deployment.processes[0], flag_games, FLAG_CLOCK_MS) if flag_games else []
    await loadgen.prime(deployment.target)
    rss_before = deployment.rss()
    rng = random.Random(games)
    think = (lambda: rng.uniform(0.5, 1.5)) if human else None
    seconds = plan.flag_seconds if flag_games else plan.human_seconds if human else plan.saturation_seconds
    async with loadgen.Games(deployment.target, games, recorder, think):
        # Seated and moved within a second, each clock then runs for FLAG_CLOCK_MS.
        span = max(0.0, plan.warmup_seconds + seconds - FLAG_CLOCK_MS / 1000 - 1)
        flagging = asyncio.create_task(loadgen.flag_all(deployment.target, timed, span, flags))
        await asyncio.sleep(plan.warmup_seconds)
        window = await measure(deployment, recorder, seconds)
        await flagging
    load = f"{games:,} games, ~1 s per move" if human else f"G={games:,}"
    load += f", {flag_games} flags" if flag_games else ""
    result = _result(scenario, load, games, 2 * games, deployment, window, recorder, rss_before)
    result.flag_lateness, result.flags_missed, result.flag_decided = flags.lateness, flags.missed, flags.decided
    return result


async def idle(deployment: Deployment, plan: Plan) -> Result:
    """S3: connect ``idle_sockets / 2`` waiting games, each its creator and a spectator, then leave them alone.

    The games are created (through our server's JSON API) before the first RSS
    reading, so the difference is what the idle sockets themselves cost. Sockets
    the server closes meanwhile count as errors.
    """
    recorder = loadgen.Recorder()
    pairs = await loadgen.waiting_games(deployment.target, plan.idle_sockets // 2, recorder)
    await loadgen.prime(deployment.target)
    rss_before = deployment.rss()
    sockets = await loadgen.open_idle(deployment.target, pairs, recorder)
    try:
        await asyncio.sleep(0.5)  # let the last hellos and presence updates settle
        window = await measure(deployment, recorder, plan.idle_seconds)
        if closed := sum(ws.close_code is not None for ws in sockets):
            recorder.errors["closed while idle"] += closed
    finally:
        recorder.closing = True
        await loadgen.close_all(sockets)
    load = f"{len(sockets):,} sockets"
    return _result("S3", load, len(pairs), len(sockets), deployment, window, recorder, rss_before)


async def pairing(deployment: Deployment, plan: Plan) -> Result:
    """S6: PAIRING_RATE seeks a second for ``plan.pairing_seconds``, each from an address of its own,
    alternating between the deployment's processes; how long from the second seek of each pair to
    both seekers told."""
    await loadgen.prime(deployment.target)
    recorder = loadgen.PairingRecorder()
    rss_before = deployment.rss()
    stopwatch = Stopwatch(deployment)
    await loadgen.seek_steadily(deployment.target, PAIRING_RATE, plan.pairing_seconds, recorder)
    window = stopwatch.window()
    moves = loadgen.Recorder(latencies=recorder.latencies(), errors=recorder.errors)
    moves.games_finished = len(moves.latencies)
    load = f"{PAIRING_RATE} seeks/s, {recorder.seeks:,} seeks"
    return _result("S6", load, len(recorder.started), recorder.seeks, deployment, window, moves, rss_before)


async def beside_computers(deployment: Deployment, plan: Plan) -> list[Result]:
    """S7: S1 at G=100 on our server, measured alone and with COMPUTER_GAMES games against the
    computer at COMPUTER_LEVEL beside it (their person answers at once, so the computer is always
    thinking), in alternating windows, so that neither kind gets the warmer machine."""
    human, computers = loadgen.Recorder(), loadgen.ComputerRecorder()
    await loadgen.prime(deployment.target)
    rss_before = deployment.rss()
    alone: list[Window] = []
    beside: list[Window] = []
    alone_latencies: list[float] = []
    beside_latencies: list[float] = []
    async with loadgen.Games(deployment.target, FLAG_LOAD_GAMES, human):
        await asyncio.sleep(plan.warmup_seconds)
        for _ in range(plan.computer_windows):
            human.latencies = []
            alone.append(await measure(deployment, human, plan.saturation_seconds))
            alone_latencies += human.latencies
            async with loadgen.ComputerGames(deployment.target, COMPUTER_GAMES, COMPUTER_LEVEL, computers):
                await asyncio.sleep(plan.warmup_seconds)  # every computer game started and thinking
                human.latencies = []
                computers.measuring = True
                beside.append(await measure(deployment, human, plan.saturation_seconds))
                computers.measuring = False
                beside_latencies += human.latencies
            computers.closing = False
    results = []
    for label, windows, latencies in (
        (S7_LOADS[0], alone, alone_latencies),
        (S7_LOADS[1], beside, beside_latencies),
    ):
        recorder = loadgen.Recorder(latencies=latencies, errors=human.errors)
        result = _result(
            "S7", label, FLAG_LOAD_GAMES, 2 * FLAG_LOAD_GAMES, deployment, _merged(windows), recorder, rss_before
        )
        results.append(result)
    results[1].computer_moves = computers.replies
    results[1].errors = human.errors + computers.errors
    return results


def _merged(windows: list[Window]) -> Window:
    """Several windows as one: their seconds added, their CPU averaged by time."""
    seconds = sum(w.seconds for w in windows)

    def average(name):
        return sum(getattr(w, name) * w.seconds for w in windows) / seconds

    return Window(
        seconds=seconds,
        server_cpu=average("server_cpu"),
        generator_cpu=average("generator_cpu"),
        machine_cpu=average("machine_cpu"),
        rss=windows[-1].rss,
        tracebacks=windows[-1].tracebacks,
    )


@dataclass
class Run:
    """One run of the tool: the plan, the servers to compare, and where results and notes go."""

    plan: Plan
    scenarios: set[str]  # some of SCENARIOS
    kinds: tuple[str, ...]
    workdir: Path  # servers' databases and logs
    on_start: Callable[[str], None]  # hears what is about to run (set-up can take minutes)
    on_result: Callable[[Result], None]  # hears of each result as it lands
    redis_url: str
    postgres_url: str
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    async def all(self) -> list[Result]:
        """Every scenario of the plan against every server, S1 to S4."""
        plan, wanted = self.plan, self.scenarios
        for games in plan.saturation_games if "S1" in wanted else ():
            await self.against_each(f"S1 G={games:,}", play, "S1", games, plan, human=False)
        if "S2" in wanted:
            await self.against_each(f"S2 {plan.human_games:,} games", play, "S2", plan.human_games, plan, human=True)
        if "S3" in wanted:
            await self.against_each(f"S3 {plan.idle_sockets:,} sockets", idle, plan)
        if "S4" in wanted:
            await self.scale_out()
        if "S5" in wanted and plan.flag_games and "ours" in self.kinds:
            await self.flags()
        if "S6" in wanted and plan.pairing_seconds and "ours" in self.kinds:
            await self.pairings()
        if "S7" in wanted and plan.computer_windows and "ours" in self.kinds:
            await self.computers()
        return self.results

    async def computers(self) -> None:
        """S7: S1 at G=100 on our server, alone and beside games against the computer."""
        self.on_start(f"S7 G=100 beside {COMPUTER_GAMES} computer games (level {COMPUTER_LEVEL}) on ours")
        with deployed("ours", self.workdir) as deployment:
            for result in await beside_computers(deployment, self.plan):
                self.on_result(result)
                self.results.append(result)

    async def pairings(self) -> None:
        """S6 on one process (SQLite, in memory), then on two sharing Redis and PostgreSQL."""
        label = f"S6 {PAIRING_RATE} seeks/s"
        await self.against_each(label, pairing, self.plan, kinds=("ours",))
        try:
            scale_out_backends(self.redis_url, self.postgres_url)
        except ConnectionError as error:
            self.notes.append(f"S6 on two processes was skipped: {error}.")
            return
        with redis_database(self.redis_url), postgres_database(self.postgres_url) as database_url:
            shared = Backing(processes=2, redis_url=self.redis_url, database_url=database_url)
            await self.against_each(label, pairing, self.plan, backing=shared, kinds=("ours",))

    async def flags(self) -> None:
        """S5: how late flags fall on our server, under S1's saturation and at S2's human pace."""
        games, flags = FLAG_LOAD_GAMES, self.plan.flag_games
        for scenario, human in (("S5/S1", False), ("S5/S2", True)):
            label = f"{scenario} {'100 games at human pace' if human else 'G=100'} with {flags} flags"
            await self.against_each(label, play, scenario, games, self.plan, human, flags, kinds=("ours",))

    async def scale_out(self) -> None:
        """S4: S1 and S2 on two processes sharing Redis (and a fresh PostgreSQL database for ours)."""
        try:
            versions = scale_out_backends(self.redis_url, self.postgres_url)
        except ConnectionError as error:
            self.notes.append(f"S4 (scale-out) was skipped: {error}.")
            return
        self.notes.append(
            f"S4 used Redis {versions['Redis']} ({self.redis_url}) and PostgreSQL {versions['PostgreSQL']}."
        )
        plan = self.plan
        with redis_database(self.redis_url) as redis_was_empty, postgres_database(self.postgres_url) as database_url:
            if not redis_was_empty:
                self.notes.append(f"{self.redis_url} was not empty, so the run's channel-layer keys were left there.")
            shared = Backing(processes=2, redis_url=self.redis_url, database_url=database_url)
            for games in plan.scale_out_games:
                await self.against_each(f"S4/S1 G={games:,}", play, "S4/S1", games, plan, human=False, backing=shared)
            label = f"S4/S2 {plan.human_games:,} games"
            await self.against_each(label, play, "S4/S2", plan.human_games, plan, human=True, backing=shared)

    async def against_each(
        self,
        label: str,
        scenario: Callable[..., Awaitable[Result]],
        *args,
        backing: Backing = ALONE,
        kinds: tuple[str, ...] | None = None,
        **kwargs,
    ) -> None:
        """``scenario(deployment, *args, **kwargs)`` once per server kind (of ``kinds``, if given),
        each on a fresh deployment."""
        for kind in self.kinds if kinds is None else kinds:
            if kind == "ws-relay" and backing.processes > 1:
                continue  # it has no channel layer to span processes
            self.on_start(f"{label} on {kind}" + (f" x{backing.processes}" if backing.processes > 1 else ""))
            with deployed(kind, self.workdir, backing) as deployment:
                result = await scenario(deployment, *args, **kwargs)
            self.on_result(result)
            self.results.append(result)
