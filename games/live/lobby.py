"""The lobby's live lists: open challenges, public games being played (open challenges taken,
strangers paired by Play now, and games against the computer left public, as its form does by
default; an invite stays private), and seekers waiting per time control.

Whatever changes a list (a public game created or taken, a game starting or ending, spectators
coming and going, a seek made or ended) calls :func:`changed`. Within ``PUSH_DELAY`` the process
reads the lists once and sends them to the ``lobby`` group, which every lobby socket of every
process joins: pushed, never polled, and one read per burst of changes, however many watch.
Each list says when it was read (``as_of``), so a socket never replaces a newer list with an
older one that another process read first but sent later.
"""

from __future__ import annotations

import asyncio
import logging
import time

from channels.layers import get_channel_layer
from django.db.models import Count
from django.utils import timezone

from games.core.engines import ENGINES
from games.live import here
from games.models import Connection, Game
from games.storage import journal, pool, store

log = logging.getLogger(__name__)

GROUP = "lobby"
PUSH_DELAY = 0.25  # seconds: changes within this long go out as one list
LIST_LENGTH = 50  # of each list


def _ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def _computer(game: Game) -> dict | None:
    """The computer opponent as the game's state names it, or None when both players are people."""
    if game.computer_seat is None:
        return None
    level = game.computer_level
    return {"seat": game.computer_seat, "level": level, "name": ENGINES[game.kind].levels[level]}


def read_lists() -> dict:
    """The lists as the database has them now: msgpack-safe primitives only (they cross the layer)."""
    now = timezone.now()
    challenges = Game.objects.filter(status=Game.Status.WAITING, public=True).order_by("-created_at")
    playing = Game.objects.filter(status=Game.Status.PLAYING, public=True).order_by("-started_at")
    playing = list(playing[:LIST_LENGTH])
    watchers = (
        Connection.objects.filter(game_id__in=[game.id for game in playing], seat__isnull=True)
        .values("game_id")
        .annotate(spectators=Count("pk"))
    )
    spectators = {row["game_id"]: row["spectators"] for row in watchers}
    return {
        "as_of": _ms(now),
        "challenges": [
            {"id": game.id, "time_control": game.time_control, "created_at": _ms(game.created_at)}
            for game in challenges[:LIST_LENGTH]
        ],
        "games": [
            {
                "id": game.id,
                "time_control": game.time_control,
                "started_at": _ms(game.started_at or game.created_at),
                "spectators": spectators.get(game.id, 0),
                "computer": _computer(game),
            }
            for game in playing
        ],
        "seekers": pool.waiting_counts(now),
    }


_latest: dict | None = None  # the lists this process read last
_latest_at = 0.0  # time.monotonic() when it did
_stale = False  # this process changed something since
_push: tuple[asyncio.AbstractEventLoop, asyncio.TimerHandle] | None = None  # a push waiting to go
_pushing: set[asyncio.Task] = set()


async def current() -> dict:
    """The lists for a socket just opened (or the API): the ones read a moment ago if nothing
    changed here since, else read now."""
    global _latest, _latest_at, _stale
    if _latest is None or _stale or time.monotonic() - _latest_at > PUSH_DELAY:
        _stale = False
        _latest, _latest_at = await journal.read(read_lists), time.monotonic()
    return _latest


def changed() -> None:
    """Something a list shows has changed: push fresh lists soon (once for a burst of changes)."""
    global _push, _stale
    _stale = True
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no event loop (a management command): nobody here watches
        return
    if _push is None or _push[0] is not loop or _push[1].cancelled():
        _push = (loop, loop.call_later(PUSH_DELAY, _push_soon))


def _push_soon() -> None:
    global _push
    _push = None
    task = asyncio.ensure_future(_push_now())
    _pushing.add(task)
    task.add_done_callback(_pushing.discard)


async def _push_now() -> None:
    try:
        lists = await current()
    except store.DATABASE_ERRORS as error:
        log.warning("the lobby's lists could not be read: %s", error)
        return
    try:
        await get_channel_layer().group_send(GROUP, {"type": "lobby.lists", "lists": lists})
    except Exception as error:  # the layer: this process's sockets are told directly; the others' refresh
        log.warning("the lobby's lists could not be sent: %r", error)
        _tell_here(lists)


# ----- This process's own lobby sockets ------------------------------------------
#
# Pushes travel over the channel layer. While it is down, or after a push it lost, lobby sockets
# would keep old lists until the next change; so each process also re-reads the lists for its own
# lobby sockets every REFRESH_SECONDS and hands them over directly (games/live/here.py) when they differ
# from what it last gave them.

REFRESH_SECONDS = 5
_here: set[str] = set()  # channel names of this process's lobby sockets
_given: dict | None = None  # the lists last handed to them here (without as_of)
_refreshed_at = 0.0


def attach(channel_name: str) -> None:
    _here.add(channel_name)


def detach(channel_name: str) -> None:
    _here.discard(channel_name)


def _content(lists: dict) -> dict:
    """What the lists show, without when they were read."""
    return {key: value for key, value in lists.items() if key != "as_of"}


def _tell_here(lists: dict) -> None:
    global _given
    _given = _content(lists)
    for channel_name in list(_here):
        here.tell(channel_name, {"type": "lobby.lists", "lists": lists})


async def refresh_here() -> None:
    """The sweeper's part: every REFRESH_SECONDS, if this process has lobby sockets, the lists as
    the database has them go to those sockets when they differ from what was last given here, so
    a socket that missed pushes (the layer was down) is up to date within that long."""
    global _refreshed_at
    if not _here or time.monotonic() - _refreshed_at < REFRESH_SECONDS:
        return
    _refreshed_at = time.monotonic()
    lists = await journal.run(read_lists)
    if _content(lists) != _given:
        _tell_here(lists)


def reset() -> None:
    global _latest, _push, _stale, _given, _refreshed_at
    if _push is not None:
        _push[1].cancel()
    _latest, _push, _stale = None, None, False
    _here.clear()
    _given, _refreshed_at = None, 0.0
