"""Every metric the server keeps, and ``/metrics``, which serves them to Prometheus.

Behind nginx a scrape reaches one process at random, so with several processes each one
writes its values to files in a shared directory (prometheus-client's multiprocess mode,
switched on by ``PROMETHEUS_MULTIPROC_DIR``, which the library reads when it is imported)
and any process serves the sum of all of them. Without that directory (one process, the
default) the values live in this process's registry.

The hot path (a move from socket to broadcast) pays for one counter increment and one
histogram observation per move, and two observations and a gauge set per commit group:
label children are bound here, once, never with ``.labels()`` per move.
"""

from __future__ import annotations

import asyncio
import atexit
import glob
import hmac
import ipaddress
import os
import re
from functools import cache

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

disable_created_metrics()  # a ``_created`` sample per counter says nothing an operator needs

MULTIPROCESS = bool(settings.GAME_METRICS_DIR)
if MULTIPROCESS:  # each metric opens its file here as it is defined
    os.makedirs(settings.GAME_METRICS_DIR, exist_ok=True)

# Seconds: a commit or a move takes about a millisecond when all is well.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
RESULTS = ("win", "draw", "resigned", "abandoned", "timeout", "aborted")

OPEN_SOCKETS = Gauge("game_open_sockets", "WebSocket connections attached to a game.", multiprocess_mode="livesum")
GAMES_IN_MEMORY = Gauge(
    "game_games_in_memory",
    "Games held in memory (a game watched through two processes counts twice).",
    multiprocess_mode="livesum",
)
GAMES_CREATED = Counter("game_games_created", "Games created, rematches included.")
GAMES_STARTED = Counter("game_games_started", "Games in which both seats were taken and play began.")
_GAMES_FINISHED = Counter("game_games_finished", "Games that ended, by result.", ["result"])
GAMES_FINISHED = {result: _GAMES_FINISHED.labels(result) for result in RESULTS}
MOVES = Counter("game_moves_committed", "Moves committed to the log.")
SEEKS = Counter("game_seeks_created", "Seeks (Play now) created.")
PAIRINGS = Counter("game_seeks_paired", "Pairs of seekers put into a new game.")
COMPUTER_MOVES = Counter("game_computer_moves", "Moves the computer opponent committed.")
THINK_SECONDS = Histogram(
    "game_computer_think_seconds",
    "The computer's search per move, in its worker process (its pause before moving not counted).",
    buckets=LATENCY_BUCKETS,
)
COMMIT_SECONDS = Histogram(
    "game_commit_seconds", "One group commit of the journal, queued to committed.", buckets=LATENCY_BUCKETS
)
MOVE_SECONDS = Histogram(
    "game_move_broadcast_seconds",
    "A move from its receipt to its broadcast (decided and committed on the way).",
    buckets=LATENCY_BUCKETS,
)
BATCH_SIZE = Histogram(
    "game_journal_batch_size", "Appends committed together in one group.", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256)
)
QUEUE_DEPTH = Gauge(
    "game_journal_queue_depth",
    "Work waiting for the journal's database thread when its last group commit began.",
    multiprocess_mode="livesum",
)
_ERRORS = Counter("game_errors_sent", "Error messages sent to WebSocket clients, by code.", ["code"])
_REFUSALS = Counter("game_refusals", "Requests, connections or frames refused by a limit, by kind.", ["kind"])
_LAYER_FAILURES = Counter(
    "game_channel_layer_failures", "Channel-layer operations that failed, by where they were made.", ["where"]
)
LAYER_FAILURES = {where: _LAYER_FAILURES.labels(where) for where in ("broadcast", "presence", "socket", "seek")}

# Children bound on first use of a label value; the values are ours (error codes, limit kinds), never a client's.
_errors: dict[str, Counter] = {}
_refusals: dict[str, Counter] = {}


def error_sent(code: str) -> None:
    child = _errors.get(code)
    if child is None:
        child = _errors[code] = _ERRORS.labels(code)
    child.inc()


def record_refusal(kind: str) -> None:
    """Count one refusal by a limit: ``"socket_rate"`` for a frame over a socket's rate,
    ``"create"`` and ``"join"`` for the per-address rates (games/web/limits.py), ``"sockets"`` for a
    socket over its address's cap."""
    child = _refusals.get(kind)
    if child is None:
        child = _refusals[kind] = _REFUSALS.labels(kind)
    child.inc()


def game_finished(result: str | None) -> None:
    child = GAMES_FINISHED.get(result or "")
    (child if child is not None else _GAMES_FINISHED.labels(result or "unknown")).inc()


def count_event(kind: str, was_over: bool, after) -> None:
    """What a committed event changes in the metrics: a move, play starting, a game ending (``after``
    is the match once it is in), a rematch."""
    if kind == "move":
        MOVES.inc()
    elif kind == "joined":
        GAMES_STARTED.inc()
    elif kind == "rematch":  # its game was created with both seats taken: it starts at once
        GAMES_CREATED.inc()
        GAMES_STARTED.inc()
    if after.over and not was_over:
        game_finished(after.result)


# ----- Several processes ---------------------------------------------------------------


def _forget_dead_processes(path: str) -> None:
    """Drop the live gauges of processes on this host that are gone without saying so (killed):
    their open sockets would otherwise count for ever. Counters and histograms stay, as they should."""
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        pid = int(re.search(r"_(\d+)\.db$", name).group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, path)
        except PermissionError:
            pass  # alive, someone else's


if MULTIPROCESS:
    _forget_dead_processes(settings.GAME_METRICS_DIR)
    atexit.register(multiprocess.mark_process_dead, os.getpid(), settings.GAME_METRICS_DIR)


def collected() -> CollectorRegistry:
    """The registry to read: every process's files, or this process's own values."""
    if not MULTIPROCESS:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, settings.GAME_METRICS_DIR)
    return registry


def totals() -> dict[str, float]:
    """Each metric's samples summed over their labels (a histogram's by ``_count`` and ``_sum``)."""
    sums: dict[str, float] = {}
    for family in collected().collect():
        for sample in family.samples:
            sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
    return sums


# ----- Who may read them ------------------------------------------------------------


@cache
def _networks(listed: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(network, strict=False) for network in listed)


def allowed(request) -> bool:
    """The bearer token, if one is set; else a direct request from a listed network. A request
    that came through a proxy (it carries X-Forwarded-For) needs the token: its address is the
    proxy's, or one the client wrote itself."""
    token = settings.GAME_METRICS_TOKEN
    if token:
        offered = request.headers.get("Authorization", "")
        if hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
            return True
    if "x-forwarded-for" in request.headers:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(settings.GAME_METRICS_ALLOWED_NETWORKS)))


@never_cache
@require_GET
async def metrics_view(request):
    """Prometheus' text format; 404 for anyone not allowed, as if there were nothing here."""
    if not allowed(request):
        raise Http404
    if MULTIPROCESS:  # reads a file per process and kind: off the event loop
        body = await asyncio.to_thread(generate_latest, collected())
    else:
        body = generate_latest(REGISTRY)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
