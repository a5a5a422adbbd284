"""The in-memory channel layer of a single process: Channels' own, without its per-message sweep
and with a light inbox per channel.

Channels' in-memory layer walks every channel queue and every group membership on
each ``receive`` and ``group_send`` to drop expired entries: work in proportion to
the sockets of the whole process for every message, which at a few thousand sockets
costs more than everything else a move does. :class:`InMemoryLayer` sweeps at most
once a second, and hands a group message to each member's queue directly instead
of through a task per member.

Each socket's consumer waits on its channel for as long as the socket is open, so
the stock layer holds an ``asyncio.Queue`` per socket: four deques and an Event,
about 3.3 KB for what is nearly always an empty queue and one waiting receiver.
An :class:`Inbox` holds the same (messages in order, receivers waiting) in two
plain lists, a tenth of that.

Messages are kept packed with msgpack, as channels-redis sends them: a group message
is packed once for all its members and each receiver unpacks its own copy (the stock
layer deep-copies it for every member, which cost more), and a message Redis could
not carry (a datetime, a set, an object) fails here as it would there, instead of
working until the first deploy on Redis.
"""

import asyncio
import contextlib
import time

import msgpack
from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer


class Inbox:
    """Messages in order, and the receivers waiting for one: an ``asyncio.Queue``'s job in two
    plain lists (an empty Queue is four deques and an Event, 3.3 KB).

    Serves each channel of :class:`InMemoryLayer`, and each connection's ASGI receive in
    daphne (config/websocket_protocol.py), which calls ``put_nowait``.
    """

    __slots__ = ("messages", "waiters")

    def __init__(self):
        self.messages: list = []
        self.waiters: list[asyncio.Future] = []

    def put_nowait(self, message) -> None:
        self.messages.append(message)
        self._wake_one()

    def _wake_one(self) -> None:
        """Hand the first message to the longest-waiting receiver still waiting."""
        while self.waiters:
            waiter = self.waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return

    async def get(self):
        """The first message, once there is one; a receiver cancelled while waiting takes nothing."""
        while not self.messages:
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                with contextlib.suppress(ValueError):
                    self.waiters.remove(waiter)
                if waiter.done() and not waiter.cancelled() and self.messages:
                    self._wake_one()  # woken, then cancelled: the message is someone else's now
                raise
        return self.messages.pop(0)


class InMemoryLayer(InMemoryChannelLayer):
    SWEEP_SECONDS = 1.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.channels: dict[str, Inbox] = {}
        self._next_sweep = 0.0

    async def send(self, channel, message):
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        self._put(channel, msgpack.packb(message))

    def _put(self, channel: str, packed: bytes) -> None:
        inbox = self.channels.get(channel)
        if inbox is None:
            inbox = self.channels[channel] = Inbox()
        capacity = self.get_capacity(channel)
        if capacity and len(inbox.messages) >= capacity:  # 0 means no limit, as for asyncio.Queue
            raise ChannelFull(channel)
        inbox.put_nowait((time.time() + self.expiry, packed))

    async def receive(self, channel):
        """The first message on the channel; receivers waiting on one channel are served in turn."""
        self.require_valid_channel_name(channel)
        self._clean_expired()
        inbox = self.channels.get(channel)
        if inbox is None:
            inbox = self.channels[channel] = Inbox()
        try:
            _, packed = await inbox.get()
        finally:  # received or cancelled (a socket closing): keep nothing for an idle channel
            if not inbox.messages and not inbox.waiters and self.channels.get(channel) is inbox:
                del self.channels[channel]
        return msgpack.unpackb(packed)

    def _clean_expired(self):
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            self._sweep()

    def _sweep(self):
        """Channels' expiry rules: an expired message is dropped and its channel leaves every group."""
        now = time.time()
        for channel, inbox in list(self.channels.items()):
            expired = 0
            while expired < len(inbox.messages) and inbox.messages[expired][0] < now:
                expired += 1
            if expired:
                del inbox.messages[:expired]
                self._remove_from_groups(channel)
                if not inbox.messages and not inbox.waiters:
                    del self.channels[channel]
        timeout = int(now) - self.group_expiry
        for channels in self.groups.values():
            for name, joined in list(channels.items()):
                if joined and joined < timeout:
                    channels.pop(name, None)

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        packed = msgpack.packb(message)
        for channel in list(self.groups.get(group, ())):  # names checked when they joined
            with contextlib.suppress(ChannelFull):  # as in the stock layer: a member this far behind misses it
                self._put(channel, packed)
