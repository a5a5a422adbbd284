"""What every WebSocket endpoint here shares: the socket's life run to its end with clean-up in
``finally``, frames checked (size, rate, JSON object, a known ``type``) before any handler runs,
refusals sent back as machine-readable errors, and lean JSON out.

A client's message ``type`` is looked up in the endpoint's own ``handlers`` table, never turned
into a channel-layer handler name, so a client can never call one.
"""

import asyncio
import contextlib
import functools
import logging
import time

import orjson
from autobahn.exception import Disconnected
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from redis.exceptions import RedisError

from games import metrics
from games.core.rules import IllegalMove
from games.live import here
from games.storage import store
from games.web import limits

log = logging.getLogger(__name__)

# Close codes (4000-4999 are free for applications; see docs/protocol.md).
CLOSE_ABNORMAL = 1006  # ended without a close frame (the server cancelled the consumer, say)
CLOSE_INTERNAL_ERROR = 1011  # an unexpected error: the server closes the socket with this
CLOSE_SERVICE_RESTART = 1012  # the channel layer failed under us: come back in a moment
CLOSE_UNKNOWN_GAME = 4404  # also an unknown seek
CLOSE_BAD_TOKEN = 4403  # a seek's socket said hello with a token that is not the seek's
CLOSE_IDLE = 4408
CLOSE_RATE_LIMITED = 4429
CLOSE_TOO_MANY_SOCKETS = 4430  # this address holds GAME_MAX_SOCKETS_PER_ADDRESS open sockets already
CLOSE_UNAVAILABLE = 4503  # the game (or seek) could not be loaded: the database failed; come back in a moment
# The reason sent with the close of a socket whose consumer failed.
FAILURE_REASONS = {CLOSE_SERVICE_RESTART: "service restart", CLOSE_INTERNAL_ERROR: "internal error"}
# Refused messages in a row, over the rate limit, before the socket is closed.
RATE_LIMIT_STRIKES = 50
# What a channel layer raises when its backend goes away (Redis restarting, say).
LAYER_ERRORS = (OSError, RedisError)


class ClientError(IllegalMove):
    """A message the protocol refuses; sent back to its sender only."""


class TokenBucket:
    """``rate`` messages a second on average, ``burst`` at once."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def frame_too_large(text_data: str | None, bytes_data: bytes | None, limit: int) -> bool:
    """Over ``limit`` bytes? Short text frames (most of them) need no encoding to know."""
    if text_data is None:
        return len(bytes_data or b"") > limit
    if len(text_data) * 4 <= limit:  # UTF-8 takes at most 4 bytes a character
        return False
    return len(text_data.encode()) > limit


def optional_int(content: dict, name: str, minimum: int = 0) -> int | None:
    value = content.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ClientError("bad_field", f"'{name}' must be a whole number of at least {minimum}.")
    return value


def optional_str(content: dict, name: str) -> str | None:
    value = content.get(name)
    if value is not None and not isinstance(value, str):
        raise ClientError("bad_field", f"'{name}' must be a string.")
    return value


class _Turns:
    """What the readers of one :func:`dispatch_in_turn` share (slots: every open socket has one)."""

    __slots__ = ("dispatch", "failure", "lock", "task")

    def __init__(self, dispatch):
        self.dispatch, self.lock, self.task, self.failure = dispatch, asyncio.Lock(), asyncio.current_task(), None

    async def read(self, receive):
        while True:
            message = await receive()
            async with self.lock:
                await self.dispatch(message)
            message = None  # nothing of a message is kept while waiting for the next one
            if self.failure is not None:  # a reader failed while this dispatch ran, which it was let finish
                self.task.cancel()

    def stop(self, reader: asyncio.Task) -> None:
        """A reader ended: if it failed, so does the whole, once no dispatch is under way (as in Channels)."""
        if not reader.cancelled() and reader.exception() is not None and self.failure is None:
            self.failure = reader.exception()
            if not self.lock.locked():
                self.task.cancel()


async def dispatch_in_turn(receivers, dispatch, turns: _Turns | None = None):
    """Channels' ``await_many_dispatch``, without a task per message and leaner while idle: read
    every receiver at once and dispatch what each brings, one message at a time, until a
    dispatch or a receiver raises.

    Channels starts a task for every message received, and waits with ``asyncio.wait`` (a set,
    a future and a callback per receiver, every round), keeping the last message and its task
    while idle. Here the calling task reads the first receiver itself and one task per other
    receiver reads it for the socket's whole life; a lock makes their dispatches take turns,
    so handlers still run one at a time and each receiver's messages in order.
    """
    turns = turns or _Turns(dispatch)
    readers = [asyncio.ensure_future(turns.read(receive)) for receive in receivers[1:]]
    for reader in readers:
        reader.add_done_callback(turns.stop)
    try:
        await turns.read(receivers[0])
    except asyncio.CancelledError:
        if turns.failure is not None and turns.task.uncancel() == 0:  # cancelled by a failed reader alone
            raise turns.failure from None
        raise
    finally:
        for reader in readers:  # as Channels does: stop the other readers and wait for them
            reader.remove_done_callback(turns.stop)
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


class JsonSocket(AsyncJsonWebsocketConsumer):
    """The shared life of a socket: subclasses say what it serves and handle its messages.

    Subclasses set ``handlers`` (message type -> method), call :meth:`take_slot` and
    :meth:`limit_messages` in ``connect``, and tidy up in ``disconnect``, which runs on
    every exit path (it may run twice). ``serving`` says whether frames are read at all.
    """

    accepted = False  # the handshake is done
    channel_name = None  # this socket's channel, once the layer gave it one
    address = None  # the client's address, once it holds one of the address's socket slots
    handlers: dict = {}
    what = "socket"  # for the logs: what this endpoint serves

    # ----- Connection lifecycle ---------------------------------------------

    async def __call__(self, scope, receive, send):
        """Run the socket until it ends; however it ends, ``disconnect`` runs first.

        Channels' ``AsyncConsumer.__call__``, with :func:`dispatch_in_turn` for its wait. These
        consumers always have a channel layer and are asynchronous, so neither of Channels'
        other cases applies.

        ``disconnect`` runs in ``finally``, as Starlette's ``WebSocketEndpoint`` runs its
        ``on_disconnect``, so no exit path leaves a socket counted that is gone. A socket the
        client closed has run it already (the second run finds nothing to do). If the channel
        layer failed, the client is then asked to come back (1012); any other exception closes
        the socket with 1011 and is raised on to the server, which logs it.
        """
        self.scope = scope
        self.base_send = send
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        code = CLOSE_ABNORMAL
        try:
            self.channel_name = await self.channel_layer.new_channel()
            from_layer = functools.partial(self.channel_layer.receive, self.channel_name)
            self.turns = _Turns(self.dispatch)
            here.add(self.channel_name, self.deliver_here)
            await dispatch_in_turn((receive, from_layer), self.dispatch, self.turns)
        except StopConsumer:
            pass  # the socket closed; Channels ends a consumer this way
        except LAYER_ERRORS as error:
            code = CLOSE_SERVICE_RESTART
            metrics.LAYER_FAILURES["socket"].inc()
            log.warning("channel layer failed under a %s: %s", self.describe(), error)
        except Exception as error:
            code = CLOSE_INTERNAL_ERROR
            log.warning("a %s ended by an unexpected error (tidied up): %r", self.describe(), error)
            raise
        finally:
            if self.channel_name is not None:
                here.discard(self.channel_name)
            await self.disconnect(code)
            if code in FAILURE_REASONS:  # the client hears why, and that it may come back
                with contextlib.suppress(Exception):  # it may be gone already
                    if not self.accepted:  # a refused handshake would look like a bad origin (403)
                        await send({"type": "websocket.accept"})
                    await send({"type": "websocket.close", "code": code, "reason": FAILURE_REASONS[code]})

    def describe(self) -> str:
        return f"{self.what} socket ({self.scope.get('path', '')})"

    async def deliver_here(self, message: dict) -> None:
        """A message from this process (games/live/here.py), handled in turn like one from the layer."""
        try:
            async with self.turns.lock:
                await self.dispatch(message)
        except Exception as error:  # the socket's own life goes on; a nudge is sent again if needed
            log.warning("a message for a %s from this process failed: %r", self.describe(), error)

    async def send(self, text_data=None, bytes_data=None, close=False):
        """Channels' send, minus the error daphne raises for a socket its client closed a moment ago
        (clients close right after a game ends all the time); the disconnect that follows tidies up.

        A method rather than a wrapper around daphne's ``send``: a closure per socket costs memory
        for as long as the socket is open. Autobahn raises Disconnected from sending a frame only.
        """
        with contextlib.suppress(Disconnected):
            await super().send(text_data, bytes_data, close)

    async def send_json(self, content, close=False):
        """Channels' send_json, through :meth:`send` above (Channels' own goes straight past it)."""
        await self.send(text_data=await self.encode_json(content), close=close)

    @classmethod
    async def encode_json(cls, content):
        """Frames as compact JSON, by orjson: a few times faster than the standard library's."""
        return orjson.dumps(content).decode()

    async def accept_and_close(self, code: int, reason: str) -> None:
        """Accept, then close with ``code``: a refused handshake would look like a bad origin (403)."""
        await self.accept()
        self.accepted = True
        await self.close(code=code, reason=reason)

    async def take_slot(self) -> bool:
        """One of the client address's socket slots; if none is free, the socket is closed (4430)."""
        address = limits.client_address(self.scope)
        if not await limits.open_socket(address):
            await self.accept_and_close(CLOSE_TOO_MANY_SOCKETS, "too many connections")
            return False
        self.address = address
        return True

    async def give_back_slot(self) -> None:
        address, self.address = self.address, None
        if address is not None:
            await limits.close_socket(address)

    def limit_messages(self) -> None:
        self.bucket = TokenBucket(settings.GAME_RATE_PER_SECOND, settings.GAME_RATE_BURST)
        self.max_bytes = settings.GAME_MAX_MESSAGE_BYTES  # read once: Django's settings object is slow to ask per frame
        self.strikes = 0

    async def websocket_disconnect(self, message):
        """Tidy up and stop, without Channels' closing of stale database connections on the way out:
        another hop to a worker thread, for connections these consumers never use (see ``dispatch``)."""
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def dispatch(self, message):
        """Run the handler for ``message`` without Channels' stale-connection check before each one.

        That check is a hop to a worker thread per message; these consumers never touch the
        database on the event loop (the journal thread keeps its own connection).
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # ----- Messages from the client -----------------------------------------

    def serving(self) -> bool:
        """Whether frames from the client are read (not before the socket is set up, nor after)."""
        return True

    def heard(self) -> None:
        """The client said something (for idle sockets)."""

    async def receive(self, text_data=None, bytes_data=None):
        """Check size and rate, parse one frame and dispatch it; any refusal becomes an error for the sender."""
        if not self.serving():
            return
        self.heard()
        try:
            if not self.bucket.take():
                metrics.record_refusal("socket_rate")
                self.strikes += 1
                if self.strikes > RATE_LIMIT_STRIKES:
                    await self.close(code=CLOSE_RATE_LIMITED, reason="rate limit")
                    return
                raise ClientError("rate_limited", "Too many messages; slow down.")
            self.strikes = 0
            if frame_too_large(text_data, bytes_data, self.max_bytes):
                raise ClientError("too_large", f"Messages are limited to {self.max_bytes} bytes.")
            if text_data is None:
                raise ClientError("bad_json", "Send JSON text frames, not binary frames.")
            try:
                content = orjson.loads(text_data)
            except ValueError:
                raise ClientError("bad_json", "That message is not valid JSON.") from None
            if not isinstance(content, dict):
                raise ClientError("not_object", "A message must be a JSON object with a 'type'.")
            kind = content.get("type")
            handler = self.handlers.get(kind) if isinstance(kind, str) else None
            if handler is None:
                raise ClientError("unknown_type", "Unknown message type; see the protocol for the list.")
            await handler(self, content)
        except IllegalMove as refusal:
            await self.send_error(refusal.code, refusal.message)
        except store.DATABASE_ERRORS as error:
            # Memory is as it was; a commit that went through all the same is found on a resend.
            log.warning("a message to a %s met a database error: %s", self.describe(), error)
            await self.send_error("unavailable", "The server could not reach its database; try again in a moment.")

    async def send_error(self, code: str, message: str):
        metrics.error_sent(code)
        await self.send_json({"type": "error", "code": code, "message": message})
