"""The meeting point: the in-process registry of live games, and the one place that applies actions.

``_games`` maps a game ID to its :class:`~games.live.game.LiveGame`. Every change goes through
:func:`act`, always in this order: decide with the rules, append the event to the database and
commit, update memory, broadcast to the game's channel-layer group. So a move anyone has seen is
already committed, and a crash loses nothing that was shown.

Actions on one game are serialised by its lock. The database stays the arbiter between
processes: an append only succeeds from the sequence number it was decided against; a loser
catches up from the log and decides again.

If the database fails (``store.DATABASE_ERRORS``), memory is left as it was and the error goes to
the caller, which may try again: an append whose commit went through all the same is then found
in the log (a resent move by its move ID, a retried join by its token), and the next heal
(games/live/healing.py) reads it and tells this process's sockets.

With several processes each registry is a cache. Every broadcast carries the committed event, so
every process folds it in (a gap is filled from the log).

What reacts to a change subscribes to the hooks below rather than being called by name, so
nothing the registry calls calls it back: the clock timers (games/live/timers.py) and the computer
(games/live/computer.py), wired in games/apps.py. Presence (games/live/presence.py) and the lobby are
told directly; they never call the registry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from channels.layers import get_channel_layer

from games import metrics
from games.core.clock import TimeControl
from games.core.identity import group_name, hash_token, new_game_id, new_seat_token, token_matches
from games.core.match import (
    PLAYING,
    AlreadyApplied,
    Event,
    TimeUp,
    apply_event,
    decide_abort,
    decide_expire,
    decide_flag,
    decide_join,
    decide_move,
    decide_player_abort,
    decide_rematch,
    decide_resign,
    public_event,
    replay_with_history,
)
from games.core.rules import IllegalMove
from games.live import here, liveness, lobby, presence
from games.live.game import LiveGame, UnknownGame, now_ms
from games.live.hooks import Hook
from games.storage import journal, store

log = logging.getLogger(__name__)

# Appends lost to another process before we give up and report "busy".
MAX_ATTEMPTS = 5
# How long a game changed by a request, with no socket here, stays in memory for the sockets that follow.
LINGER_SECONDS = 5.0


# ----- Hooks: who hears of a change ------------------------------------------------

state_changed = Hook("a game's state in memory changed: (live)")
game_released = Hook("a game left this process's memory: (live)")
event_committed = Hook("this process committed an event: (live, event)")
before_timed_action = Hook("awaited before a move or a flag is decided: ()")


_games: dict[str, LiveGame] = {}
_loading: dict[str, asyncio.Task] = {}


async def _load(game_id: str) -> LiveGame | None:
    stored = await journal.run(store.load_game, game_id, liveness.alive_since())
    if stored is None:
        return None
    match, history = replay_with_history(stored.kind, stored.events)
    live = LiveGame(
        id=stored.id, match=match, token_hashes=stored.token_hashes, history=history, presence_state=stored.presence
    )
    _games[game_id] = live
    metrics.GAMES_IN_MEMORY.inc()
    state_changed.tell(live)
    return live


async def get(game_id: str) -> LiveGame | None:
    """The live game, loaded from the database on first use; None if there is no such game."""
    live = _games.get(game_id)
    if live is not None:
        return live
    task = _loading.get(game_id)
    if task is None:  # one load per game, however many connections ask at once
        task = asyncio.ensure_future(_load(game_id))
        _loading[game_id] = task
        task.add_done_callback(lambda _: _loading.pop(game_id, None))
    return await asyncio.shield(task)


def connection_count(game_id: str) -> int:
    """Sockets open to a game in this process."""
    live = _games.get(game_id)
    return len(live.sockets) if live else 0


def live_games() -> list[LiveGame]:
    return list(_games.values())


def held(game_id: str) -> LiveGame | None:
    """The game if this process holds it in memory now (never loads it)."""
    return _games.get(game_id)


def release(live: LiveGame) -> None:
    """Forget a game nobody is connected to; the database still has all of it."""
    if not live.sockets and not live.lock.locked() and _games.get(live.id) is live:
        del _games[live.id]
        metrics.GAMES_IN_MEMORY.dec()
        game_released.tell(live)  # its timer too: the sweeper of any process flags it from the database


def _release_soon(live: LiveGame) -> None:
    """Forget an unwatched game after a moment: sockets usually follow the request that changed
    it (a join over HTTP, then the players connect), and would otherwise load it again."""
    if not live.sockets:
        asyncio.get_running_loop().call_later(LINGER_SECONDS, release, live)


async def _catch_up(live: LiveGame) -> None:
    """Fold in events another process committed since we last looked."""
    fold(live, *await journal.run(store.catch_up, live.id, live.match.seq))


def fold(live: LiveGame, events: list[Event], token_hashes: dict[int, str] | None) -> None:
    """Apply events read from the log after the cache's seq (hold the game's lock)."""
    if token_hashes is not None:
        live.token_hashes = token_hashes
    for event in events:
        live.match = apply_event(live.match, event)
        live.history.append(public_event(event, live.match))
    if events:
        state_changed.tell(live)


async def refresh(live: LiveGame) -> None:
    """Make sure this cache holds everything committed so far (a new client is about to be welcomed)."""
    async with live.lock:
        await _catch_up(live)


async def observe(live: LiveGame, message: dict) -> None:
    """Fold in an event broadcast by any process; the next one in line directly, after a gap from the log."""
    seq = message["event"]["seq"]
    if seq <= live.match.seq:
        return  # this process committed it, or already caught up past it
    async with live.lock:
        if seq <= live.match.seq:
            return
        event = Event(*message["raw"])
        if seq == live.match.seq + 1 and event.kind != "joined":
            live.match = apply_event(live.match, event)
            live.history.append(message["event"])
            state_changed.tell(live)
        else:  # a message was lost or overtaken, or a token hash arrived: the database has it all
            try:
                await _catch_up(live)
            except store.DATABASE_ERRORS as error:  # the next heal reads it, once the database is back
                log.warning("catching game %s up failed: %s", live.id, error)


async def _broadcast(game_id: str, message: dict) -> None:
    """Tell every connection of the game, in every process. What was committed stays committed if this fails."""
    try:
        await get_channel_layer().group_send(group_name(game_id), message)
    except Exception as error:  # the layer is down: this process's sockets are told directly, now
        metrics.LAYER_FAILURES["broadcast"].inc()
        log.warning("broadcast to game %s failed: %s", game_id, error)
        if (live := _games.get(game_id)) is not None:
            nudge_here(live)  # other processes' heals read it from the log


def nudge_here(live: LiveGame) -> None:
    """Ask every socket of the game on this process to forward what it lacks; no channel layer
    involved, so this works while it is down (games/live/here.py)."""
    for channel_name in list(live.sockets):
        here.tell(channel_name, {"type": "game.nudge"})
    live.unsent = False


async def act(
    game_id: str,
    decide: Callable[[LiveGame], Event],
    token_hash: str = "",
    also: Callable[[LiveGame, Event], Callable[[], None] | None] = lambda live, event: None,
    received: float | None = None,
    committed: Callable[[dict], Awaitable[None]] | None = None,
) -> dict:
    """Decide, commit, remember, broadcast: the only path by which a game changes.

    ``received`` (a move's ``perf_counter`` on arrival) times the move up to its broadcast.
    ``committed`` hears the event once it is committed, before the broadcast: the mover's ack,
    which so never waits for the channel layer."""
    live = await get(game_id)
    if live is None:
        raise UnknownGame(game_id)
    try:
        async with live.lock:
            for _ in range(MAX_ATTEMPTS):
                event = decide(live)
                after = apply_event(live.match, event)
                try:
                    await journal.append(store.Append(live.id, event, after, token_hash, also(live, event)))
                except store.StaleGame:
                    await _catch_up(live)
                    continue
                except store.DATABASE_ERRORS:
                    live.unsent = True  # committed after all? Then the next heal tells the sockets here.
                    raise
                before, live.match = live.match, after
                state_changed.tell(live)
                if event.kind == "joined":
                    live.token_hashes[event.seat] = token_hash
                message = public_event(event, after)
                live.history.append(message)
                raw = [event.seq, event.kind, event.seat, event.data]
                if received is not None and event.kind == "move":
                    metrics.MOVE_SECONDS.observe(time.perf_counter() - received)
                metrics.count_event(event.kind, before.over, after)
                if committed is not None:
                    await _tell_committed(committed, message)
                await _broadcast(live.id, {"type": "game.event", "event": message, "raw": raw})
                if after.status != before.status or event.kind == "rematch":
                    lobby.changed()  # a game started, ended, or began again as a rematch
                if after.status == PLAYING and before.status != PLAYING:
                    # Play starts: a seat nobody is connected to is away from now.
                    await presence.recount(live)
                await event_committed.fire(live, event)  # the computer considers the position, say
                return message
            raise IllegalMove("busy", "The game is busy; try again.")
    finally:
        _release_soon(live)


async def _tell_committed(committed: Callable[[dict], Awaitable[None]], message: dict) -> None:
    """Whatever the listener does, the committed event is still remembered and broadcast."""
    try:
        await committed(message)
    except Exception as error:
        log.warning("telling of committed event %s failed: %r", message["seq"], error)


# ----- Actions ----------------------------------------------------------------


async def create_game(
    kind: str = "connect4", control: TimeControl | None = None, public: bool = False, seat: int = 1, **keyed
) -> tuple[str, str]:
    """A new game with the creator in ``seat`` (timed by ``control``; an open challenge in the
    lobby if ``public``): its ID and the creator's token. ``keyed``: an API call's ``token`` and
    ``request_key`` (games/web/idempotency.py)."""
    created = await journal.run(store.create_game, kind, control, public, seat, **keyed)
    metrics.GAMES_CREATED.inc()
    if public:
        lobby.changed()
    return created


async def join(game_id: str, token: str | None = None) -> tuple[int, str, dict]:
    """Claim the free seat: the seat, its token (shown once) and the joined event.

    A join retried with the token of an attempt that met a database error finds the seat
    that attempt took if its commit went through after all, instead of being refused."""
    token = token or new_seat_token()
    joined = None

    def decide(live: LiveGame) -> Event:
        nonlocal joined
        joined = next((event for event in live.history if event["type"] == "joined"), None)
        if joined is not None and token_matches(token, live.token_hashes.get(joined["seat"], "")):
            raise AlreadyApplied(joined["seq"])
        return decide_join(live.match, now_ms())

    try:
        joined = await act(game_id, decide, token_hash=hash_token(token))
    except AlreadyApplied:  # ``joined`` is the event that attempt committed
        return joined["seat"], token, joined
    return joined["seat"], token, joined


async def move(
    game_id: str, seat: int | None, payload: dict, committed: Callable[[dict], Awaitable[None]] | None = None
) -> dict:
    """Drop a disc. A move ID already in the log raises AlreadyApplied instead of playing twice.

    In a timed game the move counts as received now; if the mover's time had already run out,
    the game ends on time instead and the mover is told ``out_of_time``. ``committed`` hears the
    move once it is committed, before it is broadcast (not a flag that stood in for it)."""
    received, received_ms, flagged = time.perf_counter(), now_ms(), False
    await before_timed_action.fire()

    def decide(live: LiveGame) -> Event:
        nonlocal flagged
        flagged = False
        try:
            return decide_move(live.match, seat, payload, received_ms)
        except TimeUp:
            flagged = True
            return decide_flag(live.match, received_ms)

    async def moved(message: dict) -> None:
        if not flagged and committed is not None:
            await committed(message)

    event = await act(game_id, decide, received=received, committed=moved)
    if flagged:
        raise IllegalMove("out_of_time", "Your time ran out before your move arrived; the game is over.")
    return event


async def resign(game_id: str, seat: int | None) -> dict:
    return await act(game_id, lambda live: decide_resign(live.match, seat))


async def abort(game_id: str, reason: str = "Aborted by an operator.") -> dict:
    return await act(game_id, lambda live: decide_abort(live.match, reason))


async def expire(game_id: str) -> dict:
    """Abort a game nobody joined in time (the sweeper found it; the append decides who does it)."""
    return await act(game_id, lambda live: decide_expire(live.match))


async def player_abort(game_id: str, seat: int | None) -> dict:
    return await act(game_id, lambda live: decide_player_abort(live.match, seat))


async def rematch(game_id: str, seat: int | None) -> dict:
    """Offer a rematch; when both have, the new game (colours swapped) is created with the agreeing event."""
    new_id = new_game_id()

    def create(live: LiveGame, event: Event) -> Callable[[], None] | None:
        if event.kind != "rematch":
            return None
        control = live.match.clock.control if live.match.clock is not None else None
        hashes, opponent = dict(live.token_hashes), live.match.computer
        return lambda: store.create_rematch(live.id, new_id, live.match.kind, hashes, control, now_ms(), opponent)

    return await act(game_id, lambda live: decide_rematch(live.match, seat, new_id), also=create)


def reset() -> None:
    """Forget every live game (tests start from an empty meeting point; each module that keeps
    state of its own has a ``reset`` too)."""
    _games.clear()
    _loading.clear()
    metrics.GAMES_IN_MEMORY.set(0)
