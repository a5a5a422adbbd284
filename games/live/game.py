"""A game as one process holds it in memory (the registry's unit): its replayed state, its
history as clients see it, who is connected here, and what it tells a socket that says hello.

The registry (games/live/registry.py) keeps these and is the only one that changes them; the modules
around it (presence, the clock timers, the computer) read them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from games.core.identity import token_matches
from games.core.match import PLAYING, Match, snapshot
from games.storage import store

# A client further behind than this gets the snapshot alone, not every event it missed.
REPLAY_LIMIT = 100


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
