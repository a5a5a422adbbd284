"""The clocks' timers and give-backs, in this process: the flag falls by itself at the deadline,
an outage no process served through is given back before any clock is read, and a move the
channel layer delivered late is given back to the player who was not shown it.

Its two actions, ``flag`` and ``give_back``, are applied by the registry like any other (each a
conditional append, so two processes never both do it). It hears of every change of a game's
state through the registry's hooks (:func:`install`), so the registry never calls it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from django.conf import settings

from games.core.match import PLAYING, decide_flag, decide_give_back
from games.core.rules import IllegalMove
from games.live import liveness, registry
from games.live.game import LiveGame, UnknownGame, now_ms
from games.storage import journal, store

log = logging.getLogger(__name__)

# A flag is raised this long after the deadline, so the timer never fires a hair too early.
FLAG_MARGIN_SECONDS = 0.002


def install() -> None:
    """Subscribe to the registry: re-arm a game's timer at each change, disarm it when the game
    leaves memory, and give an outage back before any timed action."""
    registry.state_changed.subscribe(watch)
    registry.game_released.subscribe(stop)
    registry.before_timed_action.subscribe(ready)


# ----- The two actions of time ------------------------------------------------------


async def flag(game_id: str, at_ms: int | None = None) -> dict:
    """End the game on time if the side to move had run out at ``at_ms`` (default: now); refused
    with ``time_left`` if not."""
    at_ms = now_ms() if at_ms is None else at_ms
    await ready()
    return await registry.act(game_id, lambda live: decide_flag(live.match, at_ms))


async def give_back(game_id: str, outage_from_ms: int, outage_to_ms: int) -> dict:
    """Return to the side to move the time its clock ran while it could not play (an outage no
    process served through, or a move delivered late): once per outage or move."""
    return await registry.act(game_id, lambda live: decide_give_back(live.match, outage_from_ms, outage_to_ms))


# ----- The flag falls by itself ---------------------------------------------------


def stop(live: LiveGame) -> None:
    if live.flag_timer is not None:
        live.flag_timer.cancel()
        live.flag_timer = None


def watch(live: LiveGame) -> None:
    """Set the game's timer for its side to move's deadline (after every change of its state), so the
    flag falls by itself, with nobody sending anything. Every process holding the game sets one; the
    conditional append lets the first end it, the others are refused."""
    stop(live)
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


# ----- An outage no process served through ------------------------------------------

_clocks_checked = False  # this process has given back the outage it started after (if any)
_checking: asyncio.Task | None = None


async def ready() -> None:
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


# ----- A move delivered late ------------------------------------------------------------

_crediting: set[asyncio.Task] = set()


def credit_late_delivery(live: LiveGame) -> None:
    """A move the layer failed to deliver was just read from the log: if the player to move has a
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


def reset() -> None:
    """Disarm every timer and forget the outage check (tests start afresh)."""
    global _clocks_checked, _checking
    for live in registry.live_games():
        stop(live)
    _clocks_checked, _checking = False, None
