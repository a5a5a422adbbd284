"""The meeting point: the in-process registry of live games.

``_games`` maps a game ID to its :class:`LiveGame` (state, token hashes and who
is connected). It is the one place that applies actions, always in this order:
decide with the rules, append the event to the database and commit, update
memory, broadcast to the game's channel-layer group. So a move anyone has seen
is already committed, and a crash loses nothing that was shown.

Actions on one game are serialised by its lock. The database stays the arbiter
between processes: an append only succeeds from the sequence number it was
decided against; a loser catches up from the log and decides again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from games import store
from games.identity import hash_token, new_seat_token, token_matches
from games.match import (
    Event,
    Match,
    apply_event,
    decide_abort,
    decide_join,
    decide_move,
    public_event,
    replay_with_history,
    snapshot,
)
from games.rules import IllegalMove

log = logging.getLogger(__name__)

# Appends lost to another process before we give up and report "busy".
MAX_ATTEMPTS = 5


class UnknownGame(Exception):
    """No game has this ID."""


def group_name(game_id: str) -> str:
    """The channel-layer group every connection of a game joins."""
    return f"game-{game_id}"


@dataclass
class LiveGame:
    """A game in memory: its replayed state, its history as clients see it, its connections."""

    id: str
    match: Match
    token_hashes: dict[int, str]
    history: list[dict]
    sockets: set[str] = field(default_factory=set)  # every attached channel name
    connections: dict[str, int | None] = field(default_factory=dict)  # greeted ones -> seat (None: spectator)
    presence_version: int = 0  # bumped on every change, so a socket skips updates its welcome already had
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def seat_for(self, token: str) -> int | None:
        for seat, token_hash in self.token_hashes.items():
            if token_matches(token, token_hash):
                return seat
        return None

    def presence(self) -> dict:
        seats = list(self.connections.values())
        return {
            "type": "presence",
            "seq": self.match.seq,
            "players": {"1": 1 in seats, "2": 2 in seats},
            "spectators": seats.count(None),
        }

    def welcome(self, seat: int | None, last_seq: int) -> dict:
        return {
            "type": "welcome",
            "seq": self.match.seq,
            "game_id": self.id,
            "seat": seat,
            "role": "spectator" if seat is None else "player",
            "game": snapshot(self.match),
            "events": self.history[last_seq:],
            "presence": self.presence(),
        }


_games: dict[str, LiveGame] = {}
_loading: dict[str, asyncio.Task] = {}


async def _load(game_id: str) -> LiveGame | None:
    stored = await database_sync_to_async(store.load_game)(game_id)
    if stored is None:
        return None
    match, history = replay_with_history(stored.kind, stored.events)
    live = LiveGame(id=stored.id, match=match, token_hashes=stored.token_hashes, history=history)
    _games[game_id] = live
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


def _release(live: LiveGame) -> None:
    """Forget a game nobody is connected to; the database still has all of it."""
    if not live.sockets and not live.lock.locked() and _games.get(live.id) is live:
        del _games[live.id]


async def _catch_up(live: LiveGame) -> None:
    """Fold in events another process committed since we last looked."""
    for event in await database_sync_to_async(store.events_after)(live.id, live.match.seq):
        live.match = apply_event(live.match, event)
        live.history.append(public_event(event, live.match))


async def _broadcast(game_id: str, message: dict) -> None:
    await get_channel_layer().group_send(group_name(game_id), message)


async def _act(game_id: str, decide: Callable[[Match], Event], token_hash: str = "") -> dict:
    """Decide, commit, remember, broadcast: the only path by which a game changes."""
    live = await get(game_id)
    if live is None:
        raise UnknownGame(game_id)
    async with live.lock:
        for _ in range(MAX_ATTEMPTS):
            event = decide(live.match)
            after = apply_event(live.match, event)
            try:
                await database_sync_to_async(store.append_event)(live.id, event, after, token_hash)
            except store.StaleGame:
                await _catch_up(live)
                continue
            live.match = after
            if event.kind == "joined":
                live.token_hashes[2] = token_hash
            message = public_event(event, after)
            live.history.append(message)
            await _broadcast(live.id, {"type": "game.event", "event": message})
            break
        else:
            raise IllegalMove("busy", "The game is busy; try again.")
    _release(live)
    return message


# ----- Actions ----------------------------------------------------------------


async def create_game(kind: str = "connect4") -> tuple[str, str]:
    """A new game with seat 1 taken: its ID and seat 1's token."""
    return await database_sync_to_async(store.create_game)(kind)


async def join(game_id: str) -> tuple[int, str, dict]:
    """Claim seat 2: the seat, its token (shown once) and the broadcast event."""
    token = new_seat_token()
    event = await _act(game_id, decide_join, token_hash=hash_token(token))
    return 2, token, event


async def move(game_id: str, seat: int | None, payload: dict) -> dict:
    return await _act(game_id, lambda match: decide_move(match, seat, payload))


async def abort(game_id: str, reason: str = "Aborted by an operator.") -> dict:
    return await _act(game_id, lambda match: decide_abort(match, reason))


# ----- Connections ------------------------------------------------------------


async def attach(game_id: str, channel_name: str) -> LiveGame | None:
    """Count a new socket; it shows in presence once it says hello. None for an unknown game."""
    live = await get(game_id)
    if live is not None:
        live.sockets.add(channel_name)
    return live


async def identify(live: LiveGame, channel_name: str, token: str | None) -> int | None:
    """Seat the connection whose token matches; no token means a spectator."""
    seat = None
    if token:
        seat = live.seat_for(token)
        if seat is None:
            raise IllegalMove("bad_token", "That seat token is not valid for this game.")
    await _set_role(live, channel_name, seat)
    return seat


async def seat_connection(live: LiveGame, channel_name: str, seat: int) -> None:
    """A connection that just joined now holds its seat."""
    await _set_role(live, channel_name, seat)


async def _set_role(live: LiveGame, channel_name: str, seat: int | None) -> None:
    changed = channel_name not in live.connections or live.connections[channel_name] != seat
    live.connections[channel_name] = seat
    if changed:
        await _announce_presence(live)


async def _announce_presence(live: LiveGame) -> None:
    live.presence_version += 1
    message = {"type": "game.presence", "presence": live.presence(), "version": live.presence_version}
    await _broadcast(live.id, message)


async def detach(live: LiveGame, channel_name: str) -> None:
    live.sockets.discard(channel_name)
    if channel_name in live.connections:
        del live.connections[channel_name]
        await _announce_presence(live)
    _release(live)


def reset() -> None:
    """Forget every live game (tests start from an empty meeting point)."""
    _games.clear()
    _loading.clear()
