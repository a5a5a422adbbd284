"""The in-memory channel layer of a single process: Channels' own, without its per-message sweep.

Channels' in-memory layer walks every channel queue and every group membership on
each ``receive`` and ``group_send`` to drop expired entries: work in proportion to
the sockets of the whole process for every message, which at a few thousand sockets
costs more than everything else a move does. :class:`InMemoryLayer` sweeps at most
once a second, and hands a group message to each member's queue directly instead
of through a task per member.
"""

import contextlib
import time

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer


class InMemoryLayer(InMemoryChannelLayer):
    SWEEP_SECONDS = 1.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._next_sweep = 0.0

    def _clean_expired(self):
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            super()._clean_expired()

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            with contextlib.suppress(ChannelFull):  # as in the stock layer: a member this far behind misses it
                await self.send(channel, message)
