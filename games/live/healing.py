"""The safety net under the channel layer, which may lose a message (Redis pub/sub keeps nothing
for a process while it reconnects; a full queue drops; a layer that is down carries nothing):
every game this process holds is compared with the database, whatever it missed is read from the
log, and the game's sockets here are told to forward what they lack. The sweeper runs it each
sweep, and several times a second while Redis is down (games/live/sweeper.py).
"""

from __future__ import annotations

from games.live import presence, registry, timers
from games.storage import journal, store


async def heal() -> None:
    games = registry.live_games()
    if not games:
        return
    stored = await journal.run(store.positions, [live.id for live in games])
    for live in games:
        seq, version = stored.get(live.id, (0, 0))
        if seq > live.match.seq:
            await registry.refresh(live)
            live.unsent = True
            timers.credit_late_delivery(live)
        if version > live.presence_version:
            await presence.refresh(live)
            live.unsent = True
        if live.unsent:
            registry.nudge_here(live)
