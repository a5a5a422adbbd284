"""The meeting point: the in-process registry of live games.

``_games`` maps a game ID to its :class:`LiveGame` (state, token hashes and who
is connected). It is the one place that applies actions, always in this order:
decide with the rules, append the event to the database and commit, update
memory, broadcast to the game's channel-layer group. So a move anyone has seen
is already committed, and a crash loses nothing that was shown.

Actions on one game are serialised by its lock. The database stays the arbiter
between processes: an append only succeeds from the sequence number it was
decided against; a loser catches up from the log and decides again.

If the database fails (``store.DATABASE_ERRORS``), memory is left as it was and the
error goes to the caller, which may try again: an append whose commit went through
all the same is then found in the log (a resent move by its move ID, a retried join by
its token), and the next heal reads it and tells this process's sockets.

With several processes each registry is a cache. Every broadcast carries the
committed event, so every process folds it in (a gap is filled from the log).

Who is connected is counted and published by games/presence.py; this process's
identity and heartbeat are games/liveness.py. The registry calls both, and neither
calls it: the games they work on are passed to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from games import computer, here, journal, liveness, lobby, metrics, presence, store
from games.clock import TimeControl
from games.identity import group_name, hash_token, new_game_id, new_seat_token, token_matches
from games.match import (
    BOTH_LEFT,
    PLAYING,
    AlreadyApplied,
    Event,
    Match,
    TimeUp,
    apply_event,
    decide_abandon,
    decide_abort,
    decide_computer_move,
    decide_expire,
    decide_flag,
    decide_give_back,
    decide_join,
    decide_move,
    decide_player_abort,
    decide_rematch,
    decide_resign,
    other,
    public_event,
    replay_with_history,
    snapshot,
)
from games.rules import IllegalMove

log = logging.getLogger(__name__)

# Appends lost to another process before we give up and report "busy".
MAX_ATTEMPTS = 5
# A client further behind than this gets the snapshot alone, not every event it missed.
REPLAY_LIMIT = 100
# How long a game changed by a request, with no socket here, stays in memory for the sockets that follow.
LINGER_SECONDS = 5.0


# A flag is raised this long after the deadline, so the timer never fires a hair too early.
FLAG_MARGIN_SECONDS = 0.002


class UnknownGame(Exception):
    """No game has this ID."""


def now_ms() -> int:
    """The server's time as clocks count it: milliseconds since the epoch, the same on every process."""
    return time.time_ns() // 1_000_000


def _seconds_left(since: datetime | None, after: float, now: datetime) -> float | None:
    if since is None:
        return None
    return round(max(0.0, (since + timedelta(seconds=after) - now).total_seconds()), 1)


@dataclass
class LiveGame:
    """A game in memory: its replayed state, its history as clients see it, who is connected."""

    id: str
    match: Match
    token_hashes: dict[int, str]
    history: list[dict]
    presence_state: store.Presence  # across every process, as last counted in the database
    sockets: dict[str, float] = field(default_factory=dict)  # channels attached here -> last heard from
    connections: dict[str, int | None] = field(default_factory=dict)  # greeted here -> seat (None: spectator)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    unsent: bool = False  # a broadcast from here failed: the next heal nudges this game's sockets
    players_sent: tuple[bool, bool] | None = None  # seats present in the last presence broadcast from here
    flag_timer: asyncio.TimerHandle | None = None  # ends the game on time when the side to move runs out

    @property
    def presence_version(self) -> int:
        return self.presence_state.version

    def seat_for(self, token: str) -> int | None:
        for seat, token_hash in self.token_hashes.items():
            if token_matches(token, token_hash):
                return seat
        return None

    def presence(self) -> dict:
        state, now = self.presence_state, timezone.now()
        away = {}
        for seat in (1, 2):
            since = state.away_since[seat] if self.match.status == PLAYING else None
            away[str(seat)] = (
                None
                if since is None
                else {
                    "claim_in": _seconds_left(since, settings.GAME_CLAIM_AFTER_SECONDS, now),
                    "forfeit_in": _seconds_left(since, settings.GAME_FORFEIT_AFTER_SECONDS, now),
                }
            )
        return {
            "type": "presence",
            "seq": self.match.seq,
            "players": {"1": state.players[1], "2": state.players[2]},
            "spectators": state.spectators,
            "away": away,
        }

    def welcome(self, seat: int | None, last_seq: int) -> dict:
        behind = self.match.seq - last_seq
        complete = 0 <= behind <= REPLAY_LIMIT
        return {
            "type": "welcome",
            "seq": self.match.seq,
            "game_id": self.id,
            "seat": seat,
            "role": "spectator" if seat is None else "player",
            "game": snapshot(self.match, self.history, now_ms()),
            "events": self.history[last_seq:] if complete else [],
            "complete": complete,
            "presence": self.presence(),
        }


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
    _watch_clock(live)
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


def _release(live: LiveGame) -> None:
    """Forget a game nobody is connected to; the database still has all of it."""
    if not live.sockets and not live.lock.locked() and _games.get(live.id) is live:
        del _games[live.id]
        metrics.GAMES_IN_MEMORY.dec()
        _stop_clock(live)  # the sweeper of any process flags it from the database


def _release_soon(live: LiveGame) -> None:
    """Forget an unwatched game after a moment: sockets usually follow the request that changed
    it (a join over HTTP, then the players connect), and would otherwise load it again."""
    if not live.sockets:
        asyncio.get_running_loop().call_later(LINGER_SECONDS, _release, live)


async def _catch_up(live: LiveGame) -> None:
    """Fold in events another process committed since we last looked."""
    _fold(live, *await journal.run(store.catch_up, live.id, live.match.seq))


def _fold(live: LiveGame, events: list[Event], token_hashes: dict[int, str] | None) -> None:
    """Apply events read from the log after the cache's seq (hold the game's lock)."""
    if token_hashes is not None:
        live.token_hashes = token_hashes
    for event in events:
        live.match = apply_event(live.match, event)
        live.history.append(public_event(event, live.match))
    if events:
        _watch_clock(live)


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
            _watch_clock(live)
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
            _nudge_here(live)  # other processes' heals read it from the log


def _nudge_here(live: LiveGame) -> None:
    """Ask every socket of the game on this process to forward what it lacks; no channel layer
    involved, so this works while it is down (games/here.py)."""
    for channel_name in list(live.sockets):
        here.tell(channel_name, {"type": "game.nudge"})
    live.unsent = False


async def heal() -> None:
    """The sweeper's safety net under the channel layer, which may lose a message (Redis pub/sub
    keeps nothing for a process while it reconnects, a full queue drops): every live game is
    compared with the database, whatever this cache missed is read from it, and the sockets of
    such a game are nudged to forward what they lack."""
    games = live_games()
    if not games:
        return
    stored = await journal.run(store.positions, [live.id for live in games])
    for live in games:
        seq, version = stored.get(live.id, (0, 0))
        if seq > live.match.seq:
            await refresh(live)
            live.unsent = True
            _credit_late_delivery(live)
        if version > live.presence_version:
            await presence.refresh(live)
            live.unsent = True
        if live.unsent:
            _nudge_here(live)


_crediting: set[asyncio.Task] = set()


def _credit_late_delivery(live: LiveGame) -> None:
    """The heal just brought a move that the layer failed to deliver: if the player to move has a
    socket here, it was not shown the move until now, so the time its clock ran meanwhile is given
    back (a ``clock_credit`` from the move's ``at``; once per move, whichever process gives it)."""
    match, last = live.match, live.history[-1] if live.history else None
    if match.status != PLAYING or match.clock is None or last is None or last["type"] != "move":
        return
    made_ms, late_ms = last.get("at"), now_ms()
    if made_ms is None or late_ms - made_ms < settings.GAME_LATE_DELIVERY_CREDIT_SECONDS * 1000:
        return  # untimed, or the layer's ordinary pace
    if match.turn not in live.connections.values():
        return
    task = asyncio.ensure_future(_give_back_quietly(live.id, made_ms, late_ms))
    _crediting.add(task)
    task.add_done_callback(_crediting.discard)


async def _give_back_quietly(game_id: str, from_ms: int, to_ms: int) -> None:
    try:
        event = await give_back(game_id, from_ms, to_ms)
    except (IllegalMove, UnknownGame):
        return  # given already (another process), or the game moved on
    except store.DATABASE_ERRORS as error:
        log.warning("giving back late-delivery time in game %s failed: %s", game_id, error)
        return
    log.warning("game %s: gave back %s ms a move took to be delivered", game_id, event.get("given_back_ms"))


async def _act(
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
                _watch_clock(live)
                if event.kind == "joined":
                    live.token_hashes[event.seat] = token_hash
                message = public_event(event, after)
                live.history.append(message)
                raw = [event.seq, event.kind, event.seat, event.data]
                if received is not None and event.kind == "move":
                    metrics.MOVE_SECONDS.observe(time.perf_counter() - received)
                _count(event, before, after)
                if committed is not None:
                    await _tell_committed(committed, message)
                await _broadcast(live.id, {"type": "game.event", "event": message, "raw": raw})
                if after.status != before.status or event.kind == "rematch":
                    lobby.changed()  # a game started, ended, or began again as a rematch
                if after.status == PLAYING and before.status != PLAYING:
                    # Play starts: a seat nobody is connected to is away from now.
                    await presence.recount(live)
                computer.consider(live)  # this process gave the computer the move: it thinks
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


def _count(event: Event, before: Match, after: Match) -> None:
    """What a committed event changes in the metrics: a move, play starting, a game ending, a rematch."""
    if event.kind == "move":
        metrics.MOVES.inc()
    elif event.kind == "joined":
        metrics.GAMES_STARTED.inc()
    elif event.kind == "rematch":  # its game was created with both seats taken: it starts at once
        metrics.GAMES_CREATED.inc()
        metrics.GAMES_STARTED.inc()
    if after.over and not before.over:
        metrics.game_finished(after.result)


# ----- Clocks -------------------------------------------------------------------


def _stop_clock(live: LiveGame) -> None:
    if live.flag_timer is not None:
        live.flag_timer.cancel()
        live.flag_timer = None


def _watch_clock(live: LiveGame) -> None:
    """Set the game's timer for its side to move's deadline (after every change of its state), so the
    flag falls by itself, with nobody sending anything. Every process holding the game sets one; the
    conditional append lets the first end it, the others are refused."""
    _stop_clock(live)
    deadline = live.match.deadline_ms
    if deadline is None:
        return
    delay = max(0.0, deadline / 1000 - time.time()) + FLAG_MARGIN_SECONDS
    live.flag_timer = asyncio.get_running_loop().call_later(delay, _flag_soon, live.id)


_flagging: set[asyncio.Task] = set()  # timers' flags under way (the loop keeps only weak references)


def _flag_soon(game_id: str) -> None:
    # The flag falls now, when the timer fires: on a busy loop the task below starts an iteration later.
    task = asyncio.ensure_future(_flag_quietly(game_id, now_ms()))
    _flagging.add(task)
    task.add_done_callback(_flagging.discard)


async def _flag_quietly(game_id: str, fell_ms: int) -> None:
    """The timer's flag: refused if a move or another process got there first, and retried by the
    sweeper if the database failed."""
    try:
        await flag(game_id, fell_ms)
    except (IllegalMove, UnknownGame):
        pass
    except store.DATABASE_ERRORS as error:
        log.warning("ending game %s on time failed, the sweeper tries again: %s", game_id, error)


_clocks_checked = False  # this process has given back the outage it started after (if any)
_checking: asyncio.Task | None = None


async def clocks_ready() -> None:
    """Before this process ends any game on time or takes any move: if it started after an outage
    (no process serving), every running clock gets that time back, once. Shared by all callers;
    retried by the next caller if the database failed."""
    global _checking
    if _clocks_checked:
        return
    if _checking is None or (_checking.done() and _checking.exception() is not None):
        _checking = asyncio.ensure_future(_give_back_outage())
    await asyncio.shield(_checking)


async def _give_back_outage() -> None:
    global _clocks_checked
    outage = await liveness.outage()
    if outage is not None:
        game_ids = await journal.run(store.clocks_running)
        log.warning(
            "no server was serving for %.1f s: giving it back to %d running clock(s)",
            (outage[1] - outage[0]) / 1000,
            len(game_ids),
        )
        for game_id in game_ids:
            # Refused if the clock did not run then, or another process gave it back first.
            with contextlib.suppress(IllegalMove, UnknownGame):
                await give_back(game_id, *outage)
    _clocks_checked = True


async def flag(game_id: str, at_ms: int | None = None) -> dict:
    """End the game on time if the side to move had run out at ``at_ms`` (default: now); refused
    with ``time_left`` if not."""
    at_ms = now_ms() if at_ms is None else at_ms
    await clocks_ready()
    return await _act(game_id, lambda live: decide_flag(live.match, at_ms))


async def give_back(game_id: str, outage_from_ms: int, outage_to_ms: int) -> dict:
    """Return to the side to move the time its clock ran while no server was serving (once per outage)."""
    return await _act(game_id, lambda live: decide_give_back(live.match, outage_from_ms, outage_to_ms))


# ----- Actions ----------------------------------------------------------------


async def create_game(
    kind: str = "connect4", control: TimeControl | None = None, public: bool = False, seat: int = 1, **keyed
) -> tuple[str, str]:
    """A new game with the creator in ``seat`` (timed by ``control``; an open challenge in the
    lobby if ``public``): its ID and the creator's token. ``keyed``: an API call's ``token`` and
    ``request_key`` (games/idempotency.py)."""
    created = await journal.run(store.create_game, kind, control, public, seat, **keyed)
    metrics.GAMES_CREATED.inc()
    if public:
        lobby.changed()
    return created


async def create_computer_game(
    kind: str = "connect4",
    control: TimeControl | None = None,
    human_seat: int = 1,
    level: int = 1,
    public: bool = False,
    **keyed,
) -> tuple[str, str]:
    """A game against the computer at ``level``, in play at once (on the lobby's watch list if
    ``public``): its ID and the person's token (the person has ``human_seat``; when that is 2, the
    computer starts thinking now)."""
    created = await journal.run(store.create_computer_game, kind, control, human_seat, level, now_ms(), public, **keyed)
    metrics.GAMES_CREATED.inc()
    metrics.GAMES_STARTED.inc()
    if public:
        lobby.changed()
    await computer.start(created[0])
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
        joined = await _act(game_id, decide, token_hash=hash_token(token))
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
    await clocks_ready()

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

    event = await _act(game_id, decide, received=received, committed=moved)
    if flagged:
        raise IllegalMove("out_of_time", "Your time ran out before your move arrived; the game is over.")
    return event


async def computer_move(game_id: str, seq: int, payload: dict) -> dict:
    """The computer's move for the turn it thought about (the game at ``seq``), made now; refused
    with ``stale`` once that turn has passed. Out of time, it loses on time like anyone."""
    made_ms = now_ms()
    await clocks_ready()

    def decide(live: LiveGame) -> Event:
        try:
            return decide_computer_move(live.match, seq, payload, made_ms)
        except TimeUp:
            return decide_flag(live.match, made_ms)

    return await _act(game_id, decide)


async def resign(game_id: str, seat: int | None) -> dict:
    return await _act(game_id, lambda live: decide_resign(live.match, seat))


async def abort(game_id: str, reason: str = "Aborted by an operator.") -> dict:
    return await _act(game_id, lambda live: decide_abort(live.match, reason))


async def expire(game_id: str) -> dict:
    """Abort a game nobody joined in time (the sweeper found it; the append decides who does it)."""
    return await _act(game_id, lambda live: decide_expire(live.match))


async def player_abort(game_id: str, seat: int | None) -> dict:
    return await _act(game_id, lambda live: decide_player_abort(live.match, seat))


def _decide_claim(live: LiveGame, seat: int | None) -> Event:
    if seat is None:
        raise IllegalMove("spectator", "Spectators can watch but not play.")
    absent = other(seat)
    since = live.presence_state.away_since[absent]
    if live.match.status != PLAYING or since is None or live.presence_state.players[absent]:
        decide_abandon(live.match, absent)  # refuses with game_over / not_started when it must
        raise IllegalMove("opponent_present", "Your opponent is connected.")
    wait = (since + timedelta(seconds=settings.GAME_CLAIM_AFTER_SECONDS) - timezone.now()).total_seconds()
    if wait > 0:
        raise IllegalMove(
            "too_early", f"Your opponent may still come back; you can claim the win in {math.ceil(wait)} s."
        )
    return decide_abandon(live.match, absent)


async def _fresh_presence(game_id: str) -> None:
    """Claims are decided on presence as the database has it now (a game not in memory loads fresh anyway)."""
    live = _games.get(game_id)
    if live is not None:
        await presence.refresh(live)


async def claim_win(game_id: str, seat: int | None) -> dict:
    """The opponent has been away past the grace period: they lose on abandonment."""
    await _fresh_presence(game_id)
    return await _act(game_id, lambda live: _decide_claim(live, seat))


async def forfeit_absent(game_id: str, absent: int) -> dict:
    """The server's own claim after the longer limit; if both seats are past it, the game is aborted."""

    def decide(live: LiveGame) -> Event:
        cutoff = timezone.now() - timedelta(seconds=settings.GAME_FORFEIT_AFTER_SECONDS)
        state = live.presence_state

        def gone(seat: int) -> bool:
            since = state.away_since[seat]
            return since is not None and since <= cutoff and not state.players[seat]

        if not gone(absent):
            raise IllegalMove("opponent_present", "The player came back.")
        if gone(other(absent)):
            return decide_abort(live.match, "Both players left.", BOTH_LEFT)
        return decide_abandon(live.match, absent)

    await _fresh_presence(game_id)
    return await _act(game_id, decide)


async def rematch(game_id: str, seat: int | None) -> dict:
    """Offer a rematch; when both have, the new game (colours swapped) is created with the agreeing event."""
    new_id, computer_opens = new_game_id(), False

    def create(live: LiveGame, event: Event) -> Callable[[], None] | None:
        nonlocal computer_opens
        if event.kind != "rematch":
            return None
        computer_opens = live.match.computer_seat == 2  # the colours swap: it plays Red next
        control = live.match.clock.control if live.match.clock is not None else None
        hashes, opponent = dict(live.token_hashes), live.match.computer
        return lambda: store.create_rematch(live.id, new_id, live.match.kind, hashes, control, now_ms(), opponent)

    event = await _act(game_id, lambda live: decide_rematch(live.match, seat, new_id), also=create)
    if computer_opens:
        await computer.start(new_id)
    return event


# ----- Connections ------------------------------------------------------------


async def attach(game_id: str, channel_name: str) -> LiveGame | None:
    """Count a new socket; it shows in presence once it says hello. None for an unknown game."""
    live = await get(game_id)
    if live is not None:
        live.sockets[channel_name] = time.monotonic()
    return live


def touch(live: LiveGame, channel_name: str) -> None:
    """The socket said something: it is not idle."""
    if channel_name in live.sockets:
        live.sockets[channel_name] = time.monotonic()


async def identify(live: LiveGame, channel_name: str, token: str | None) -> int | None:
    """Seat the connection whose token matches; no token means a spectator.

    Either way the cache is brought up to date first: the welcome that follows
    must not be older than the database.
    """
    seat = live.seat_for(token) if token else None
    if token and seat is None:
        await refresh(live)  # seat 2 may have been taken on another process a moment ago
        seat = live.seat_for(token)
        if seat is None:
            raise IllegalMove("bad_token", "That seat token is not valid for this game.")
    if live.connections.get(channel_name, "new") == seat and presence.recorded(channel_name):
        await refresh(live)  # a repeated hello: nothing to record
    else:
        await set_role(live, channel_name, seat)  # records it and catches up in the same visit
    return seat


async def set_role(live: LiveGame, channel_name: str, seat: int | None) -> None:
    """Record what a greeted connection is (a seat, or None to watch), catch the cache up with the
    log while there, and tell everyone. If the database fails, memory counts the connection all
    the same, the sweeper records it later, and the error is raised."""
    live.connections[channel_name] = seat
    try:
        async with live.lock:
            arrival = await presence.arrive(live, channel_name, seat)
            _fold(live, arrival.events, arrival.token_hashes)
    except store.ServerGone:
        await restore()  # puts this connection back along with all the others
        await refresh(live)
        return
    await presence.publish(live.id, arrival.presence, live)


async def detach(live: LiveGame, channel_name: str) -> None:
    """Forget a socket, in memory at once, then record its departure if it had said hello.
    Detaching twice does nothing the second time."""
    live.sockets.pop(channel_name, None)
    greeted = channel_name in live.connections
    live.connections.pop(channel_name, None)
    _release(live)
    if greeted:
        await presence.depart(live, channel_name)


# ----- This process among the others (see games/liveness.py) --------------------


async def restore() -> None:
    """Other processes took this one for dead while it was alive: put its connections back and count again."""
    await liveness.restore(
        [(channel, live.id, seat) for live in live_games() for channel, seat in live.connections.items()]
    )
    for live in live_games():
        await presence.recount(live)


async def reap_dead_servers() -> None:
    """Connections on processes that stopped beating stop counting; their seats are away from their last beat."""
    for game_id, count in (await liveness.reap()).items():
        await presence.publish(game_id, count, _games.get(game_id))


def reset() -> None:
    """Forget every live game (tests start from an empty meeting point)."""
    global _clocks_checked, _checking
    for live in _games.values():
        _stop_clock(live)
    _clocks_checked, _checking = False, None
    _games.clear()
    _loading.clear()
    metrics.GAMES_IN_MEMORY.set(0)
    presence.reset()
    liveness.reset()
    lobby.reset()
    computer.reset()
    journal.reset()
