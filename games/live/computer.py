"""The computer opponent's turns: when it has the move, think off the event loop, then move
through the registry like any player (decide with the rules, commit, broadcast).

Which process thinks: the one that committed the event giving the computer the move (it holds
the game; the person's socket is usually there). If that process dies while thinking, the turn
stays untaken in the database (``Game.computer_turn_since``) and the sweeper of any process
takes it after ``GAME_COMPUTER_STALL_SECONDS``. Two processes thinking for the same turn both
decide against the same seq: the conditional append lets one move, the other is refused
(``stale``), so the computer never moves twice for a turn.

The search runs in a pool of worker processes (``GAME_ENGINE_WORKERS``), so it neither blocks
the event loop nor holds the GIL the sockets need; or, with ``GAME_ENGINE_BACKEND = "tasks"``, on
engine workers of their own through Django's tasks framework (games/live/tasks.py), so that engine
capacity grows apart from the sockets'. A search no worker answers in time is made here instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import multiprocessing
import os
import random
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone
from django_tasks import TaskResultStatus

from games import metrics
from games.core import engines
from games.core.clock import TimeControl
from games.core.match import Event, Match, TimeUp, decide_computer_move, decide_flag
from games.core.rules import IllegalMove
from games.live import lobby, registry, tasks
from games.live.game import LiveGame, UnknownGame, now_ms
from games.storage import journal, store

log = logging.getLogger(__name__)

# The pause before a move, in seconds (the least and the most), at each level: a person sees the
# computer "think" for a moment, the search runs within it, and the move comes when both are over.
# Both ends rise gently with the level: a stronger player seems to think a little longer (and the
# top levels do search for most of it), so the weakest is never the slowest to answer.
PAUSES = {1: (0.5, 0.8), 2: (0.6, 0.9), 3: (0.7, 1.0), 4: (0.8, 1.1), 5: (0.9, 1.2)}
# In a timed game the computer plans to spend at most this share of what is left on one move.
SHARE_OF_CLOCK = 1 / 25
LEAST_BUDGET_SECONDS = 0.05
# How often a search on the task queue's workers is looked for (the result is a row).
TASK_POLL_SECONDS = 0.05
# The public move event's fields that say where the game stands, not what the move was.
_STANDING = frozenset({"type", "seq", "seat", "status", "turn", "winner", "result", "line", "clock"})

_pool: Executor | None = None
# Turns under way here: game ID -> (the seq of the turn, its task). Also keeps the tasks alive
# (the loop holds only weak references).
_turns: dict[str, tuple[int, asyncio.Task]] = {}


def pool() -> Executor:
    """The worker processes, started on first use; spawned, not forked, so no thread or socket
    of the server is copied into them; at a lower priority than the server, so that sockets keep
    their latency while the computer thinks."""
    global _pool
    if _pool is None:
        context = multiprocessing.get_context("spawn")
        _pool = ProcessPoolExecutor(
            max_workers=settings.GAME_ENGINE_WORKERS,
            mp_context=context,
            initializer=engines.worker_started,
            initargs=(os.getpid(), settings.GAME_ENGINE_NICENESS),
        )
    return _pool


def seed_for(game_id: str, seq: int) -> int:
    """The same turn draws the same random choices on every process that thinks about it."""
    return int.from_bytes(hashlib.sha256(f"{game_id}:{seq}".encode()).digest()[:8], "big")


def plan(match: Match, now_ms: int, rng: random.Random) -> tuple[float, float]:
    """(thinking budget, pause before moving) for the computer's turn, in seconds: the budget
    within ``GAME_COMPUTER_THINK_SECONDS`` and a share of its clock; the pause a person's."""
    seat, level = match.computer
    budget = settings.GAME_COMPUTER_THINK_SECONDS
    low, high = PAUSES[level]
    pause = rng.uniform(low, high) * settings.GAME_COMPUTER_PACE
    if match.clock is not None:
        left = match.clock.time_left(seat, now_ms) / 1000
        increment = match.clock.control.increment_ms / 1000
        budget = min(budget, left * SHARE_OF_CLOCK + increment / 2)
        pause = min(pause, left * SHARE_OF_CLOCK)
    return max(budget, LEAST_BUDGET_SECONDS), pause


def consider(live: LiveGame) -> None:
    """Start the computer's turn if it has the move and this process is not on that turn already."""
    match = live.match
    under_way = _turns.get(live.id)
    if not match.computer_to_move or (under_way is not None and under_way[0] == match.seq):
        return
    moves = [_fields(event) for event in live.history if event["type"] == "move"]
    _turns[live.id] = (match.seq, asyncio.ensure_future(_take_turn(live.id, match, moves)))


def _fields(event: dict) -> dict:
    return {key: value for key, value in event.items() if key not in _STANDING}


async def settled(game_id: str) -> None:
    """Return once no turn of the computer is under way here for the game (its move is in, or
    it gave up): what a test, or anyone who must not race the computer, waits for."""
    while (under_way := _turns.get(game_id)) is not None:
        await asyncio.wait([under_way[1]])


async def start(game_id: str) -> None:
    """A game that begins with the computer to move (it plays Red, or a rematch swapped it)."""
    live = await registry.get(game_id)
    if live is not None:
        consider(live)


async def _search(match: Match, moves: list[dict], budget: float, seed: int) -> tuple[dict, float]:
    """The engine's move and its thinking time: from the task queue's workers if so configured
    (and they answer in time), else from this process's pool."""
    level = match.computer[1]
    if settings.GAME_ENGINE_BACKEND == "tasks":
        try:
            found = await _search_on_workers(match.kind, moves, level, budget, seed)
        except store.DATABASE_ERRORS as error:
            log.warning("the engine's queue failed, thinking here: %s", error)
        else:
            if found is not None:
                return found
            log.warning("no engine worker answered within %.1f s, thinking here", budget)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool(), engines.think, match.kind, match.board, level, budget, seed)


async def _search_on_workers(kind: str, moves: list[dict], level: int, budget: float, seed: int):
    """Enqueue the search, then read its result until it is in; None if none came in time."""
    result = await tasks.think.aenqueue(kind, moves, level, budget, seed)
    polls = round((budget + settings.GAME_ENGINE_TASK_WAIT_SECONDS) / TASK_POLL_SECONDS)
    for _ in range(polls):
        await asyncio.sleep(TASK_POLL_SECONDS)
        await result.arefresh()
        if result.is_finished:
            if result.status != TaskResultStatus.SUCCESSFUL:
                return None  # the worker failed (it logged why): think here
            move, seconds = result.return_value
            return move, seconds
    return None


def install() -> None:
    """Subscribe to the registry: after each event this process commits, the computer considers
    the position (it thinks if it has the move, in a rematch it opens too)."""
    registry.event_committed.subscribe(_after_commit)


async def _after_commit(live: LiveGame, event: Event) -> None:
    consider(live)
    if event.kind == "rematch" and live.match.computer_seat == 2:  # the colours swap: it plays Red next
        await start(event.data["game_id"])


async def create_game(
    kind: str = "connect4",
    control: TimeControl | None = None,
    human_seat: int = 1,
    level: int = 1,
    public: bool = False,
    **keyed,
) -> tuple[str, str]:
    """A game against the computer at ``level``, in play at once (on the lobby's watch list if
    ``public``): its ID and the person's token (the person has ``human_seat``; when that is 2, the
    computer starts thinking now). ``keyed`` as for ``registry.create_game``."""
    created = await journal.run(store.create_computer_game, kind, control, human_seat, level, now_ms(), public, **keyed)
    metrics.GAMES_CREATED.inc()
    metrics.GAMES_STARTED.inc()
    if public:
        lobby.changed()
    await start(created[0])
    return created


async def computer_move(game_id: str, seq: int, payload: dict) -> dict:
    """The computer's move for the turn it thought about (the game at ``seq``), made now; refused
    with ``stale`` once that turn has passed. Out of time, it loses on time like anyone."""
    made_ms = now_ms()
    await registry.before_timed_action.fire()

    def decide(live: LiveGame) -> Event:
        try:
            return decide_computer_move(live.match, seq, payload, made_ms)
        except TimeUp:
            return decide_flag(live.match, made_ms)

    return await registry.act(game_id, decide)


async def _take_turn(game_id: str, match: Match, moves: list[dict]) -> None:
    loop = asyncio.get_running_loop()
    seed = seed_for(game_id, match.seq)
    budget, pause = plan(match, now_ms(), random.Random(seed))
    began = loop.time()
    try:
        move, thought = await _search(match, moves, budget, seed)
        metrics.THINK_SECONDS.observe(thought)
        if (wait := pause - (loop.time() - began)) > 0:
            await asyncio.sleep(wait)
        await computer_move(game_id, match.seq, move)
        metrics.COMPUTER_MOVES.inc()
    except (IllegalMove, UnknownGame):
        pass  # the turn passed meanwhile: another process moved, the person resigned, an operator aborted
    except store.DATABASE_ERRORS as error:
        log.warning("the computer's move in game %s failed, the sweeper takes the turn: %s", game_id, error)
    except Exception:
        log.exception("the computer's turn in game %s failed", game_id)
    finally:
        if _turns.get(game_id, (None,))[0] == match.seq:
            del _turns[game_id]


async def take_untaken_turns() -> None:
    """The sweeper's part: the computer's turns that nobody took (the thinking process died), a
    bounded batch per sweep. Any process may take one; the append decides if two do."""
    cutoff = timezone.now() - timedelta(seconds=settings.GAME_COMPUTER_STALL_SECONDS)
    for game_id in await database_sync_to_async(store.computer_turns_untaken)(cutoff, settings.GAME_EXPIRE_BATCH):
        live = await registry.get(game_id)
        if live is not None:
            await registry.refresh(live)
            consider(live)


def reset() -> None:
    """Forget the turns under way (tests start afresh); the worker processes stay."""
    for _, task in _turns.values():
        task.cancel()
    _turns.clear()
