"""A player who left: the opponent's claim of the win after GAME_CLAIM_AFTER_SECONDS, and the
server's own forfeit after GAME_FORFEIT_AFTER_SECONDS (both seats gone: the game is aborted).
Each is decided on presence as the database has it now, and applied by the registry.
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from games.core.match import BOTH_LEFT, PLAYING, Event, decide_abandon, decide_abort, other
from games.core.rules import IllegalMove
from games.live import presence, registry
from games.live.game import LiveGame


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
    live = registry.held(game_id)
    if live is not None:
        await presence.refresh(live)


async def claim_win(game_id: str, seat: int | None) -> dict:
    """The opponent has been away past the grace period: they lose on abandonment."""
    await _fresh_presence(game_id)
    return await registry.act(game_id, lambda live: _decide_claim(live, seat))


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
    return await registry.act(game_id, decide)
