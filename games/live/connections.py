"""This process's sockets of a game: attached, greeted as a seat or a spectator, heard from, and
detached; and, with games/live/liveness.py, this process among the others (connections put back when
it was taken for dead, those of dead processes no longer counted).

What each connection is goes to games/live/presence.py, which counts and publishes it; the game
itself is the registry's (games/live/registry.py), which this module asks for and catches up.
"""

from __future__ import annotations

import time

from games.core.rules import IllegalMove
from games.live import liveness, presence, registry
from games.live.game import LiveGame
from games.storage import store


async def attach(game_id: str, channel_name: str) -> LiveGame | None:
    """Count a new socket; it shows in presence once it says hello. None for an unknown game."""
    live = await registry.get(game_id)
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
        await registry.refresh(live)  # seat 2 may have been taken on another process a moment ago
        seat = live.seat_for(token)
        if seat is None:
            raise IllegalMove("bad_token", "That seat token is not valid for this game.")
    if live.connections.get(channel_name, "new") == seat and presence.recorded(channel_name):
        await registry.refresh(live)  # a repeated hello: nothing to record
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
            registry.fold(live, arrival.events, arrival.token_hashes)
    except store.ServerGone:
        await restore()  # puts this connection back along with all the others
        await registry.refresh(live)
        return
    await presence.publish(live.id, arrival.presence, live)


async def detach(live: LiveGame, channel_name: str) -> None:
    """Forget a socket, in memory at once, then record its departure if it had said hello.
    Detaching twice does nothing the second time."""
    live.sockets.pop(channel_name, None)
    greeted = channel_name in live.connections
    live.connections.pop(channel_name, None)
    registry.release(live)
    if greeted:
        await presence.depart(live, channel_name)


# ----- This process among the others (see games/live/liveness.py) --------------------


async def restore() -> None:
    """Other processes took this one for dead while it was alive: put its connections back and count again."""
    games = registry.live_games()
    await liveness.restore([(channel, live.id, seat) for live in games for channel, seat in live.connections.items()])
    for live in games:
        await presence.recount(live)


async def reap_dead_servers() -> None:
    """Connections on processes that stopped beating stop counting; their seats are away from their last beat."""
    for game_id, count in (await liveness.reap()).items():
        await presence.publish(game_id, count, registry.held(game_id))
