"""The WebSocket endpoint of a game: parse, call the registry, send. Nothing more.

Every connection joins the channel-layer group named by the game ID. It is a
spectator until a ``hello`` carries a valid seat token (or a ``join`` claims
seat 2). Client messages are dispatched through an explicit table, so a client
can never name a channel-layer handler.
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

from games import limits, metrics, presence, registry, shutdown, store, sweeper
from games.identity import new_seat_token
from games.match import AlreadyApplied
from games.rules import IllegalMove

log = logging.getLogger(__name__)

# Close codes (4000-4999 are free for applications; see docs/protocol.md).
CLOSE_ABNORMAL = 1006  # ended without a close frame (the server cancelled the consumer, say)
CLOSE_INTERNAL_ERROR = 1011  # an unexpected error: the server closes the socket with this
CLOSE_SERVICE_RESTART = 1012  # the channel layer failed under us: come back in a moment
CLOSE_UNKNOWN_GAME = 4404
CLOSE_IDLE = 4408
CLOSE_RATE_LIMITED = 4429
CLOSE_TOO_MANY_SOCKETS = 4430  # this address holds GAME_MAX_SOCKETS_PER_ADDRESS open sockets already
CLOSE_UNAVAILABLE = 4503  # the game could not be loaded: the database failed; come back in a moment
# The reason sent with the close of a socket whose consumer failed.
FAILURE_REASONS = {CLOSE_SERVICE_RESTART: "service restart", CLOSE_INTERNAL_ERROR: "internal error"}
# Refused messages in a row, over the rate limit, before the socket is closed.
RATE_LIMIT_STRIKES = 50
# What a channel layer raises when its backend goes away (Redis restarting, say).
LAYER_ERRORS = (OSError, RedisError)


def _game_id(scope) -> str | None:
    return scope["url_route"]["kwargs"].get("game_id")


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


async def dispatch_in_turn(receivers, dispatch):
    """Channels' ``await_many_dispatch``, without a task per message and leaner while idle: read
    every receiver at once and dispatch what each brings, one message at a time, until a
    dispatch or a receiver raises.

    Channels starts a task for every message received, and waits with ``asyncio.wait`` (a set,
    a future and a callback per receiver, every round), keeping the last message and its task
    while idle. Here the calling task reads the first receiver itself and one task per other
    receiver reads it for the socket's whole life; a lock makes their dispatches take turns,
    so handlers still run one at a time and each receiver's messages in order.
    """
    turns = _Turns(dispatch)
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


class GameConsumer(AsyncJsonWebsocketConsumer):
    """One browser tab, bot or spectator connected to one game."""

    live = None  # the game, once attached
    accepted = False  # the handshake is done
    join_token = None  # the seat token this socket's join offers, kept until seated
    address = None  # the client's address, once it holds one of the address's socket slots

    # ----- Connection lifecycle ---------------------------------------------

    async def __call__(self, scope, receive, send):
        """Run the socket until it ends; however it ends, it leaves its game first.

        Channels' ``AsyncConsumer.__call__``, with :func:`dispatch_in_turn` for its wait. This
        consumer always has a channel layer (it could not keep a game's sockets in step without
        one) and is asynchronous, so neither of Channels' other cases applies.

        ``disconnect`` runs in ``finally``, as Starlette's ``WebSocketEndpoint`` runs its
        ``on_disconnect``, so no exit path leaves the registry counting a socket that is gone or
        its presence row in place. A socket the client closed has run it already (the second run
        finds nothing to do). If the channel layer failed, the client is then asked to come back
        (1012); any other exception closes the socket with 1011 and is raised on to the server,
        which logs it.
        """
        self.scope = scope
        self.base_send = send
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        code = CLOSE_ABNORMAL
        try:
            self.channel_name = await self.channel_layer.new_channel()
            from_layer = functools.partial(self.channel_layer.receive, self.channel_name)
            await dispatch_in_turn((receive, from_layer), self.dispatch)
        except StopConsumer:
            pass  # the socket closed; Channels ends a consumer this way
        except LAYER_ERRORS as error:
            code = CLOSE_SERVICE_RESTART
            metrics.LAYER_FAILURES["socket"].inc()
            log.warning("channel layer failed under a socket of game %s: %s", _game_id(scope), error)
        except Exception as error:
            code = CLOSE_INTERNAL_ERROR
            log.warning("a socket of game %s ended by an unexpected error (left its game): %r", _game_id(scope), error)
            raise
        finally:
            await self.disconnect(code)
            if code in FAILURE_REASONS:  # the client hears why, and that it may come back
                with contextlib.suppress(Exception):  # it may be gone already
                    if not self.accepted:  # a refused handshake would look like a bad origin (403)
                        await send({"type": "websocket.accept"})
                    await send({"type": "websocket.close", "code": code, "reason": FAILURE_REASONS[code]})

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

    async def connect(self):
        self.game_id = self.scope["url_route"]["kwargs"]["game_id"]
        self.group = registry.group_name(self.game_id)
        self.seat = None
        self.seq_sent = None  # the newest seq this client has; None until welcomed
        self.presence_sent = 0  # the newest presence version this client has
        self.bucket = TokenBucket(settings.GAME_RATE_PER_SECOND, settings.GAME_RATE_BURST)
        self.max_bytes = settings.GAME_MAX_MESSAGE_BYTES  # read once: Django's settings object is slow to ask per frame
        self.strikes = 0
        address = limits.client_address(self.scope)
        if not await limits.open_socket(address):
            await self.accept()  # a refused handshake would look like a bad origin (403) to a browser
            self.accepted = True
            await self.close(code=CLOSE_TOO_MANY_SOCKETS, reason="too many connections")
            return
        self.address = address
        try:
            self.live = await registry.attach(self.game_id, self.channel_name)
        except store.DATABASE_ERRORS as error:  # not counted anywhere: nothing to tidy up
            log.warning("a socket of game %s was turned away, the game could not be loaded: %s", self.game_id, error)
            await self.accept()
            self.accepted = True
            await self.close(code=CLOSE_UNAVAILABLE, reason="database unavailable")
            return
        if self.live is not None:
            metrics.OPEN_SOCKETS.inc()  # taken off by disconnect, which finds self.live set
        await self.accept()
        self.accepted = True
        if self.live is None:
            await self.close(code=CLOSE_UNKNOWN_GAME, reason="unknown game")
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        shutdown.open_sockets.add(self)
        sweeper.ensure_running()

    async def disconnect(self, code):
        """Leave the game: out of its group, no longer counted, its departure recorded, its address's slot freed.

        Runs on every exit path (see ``__call__``), so it may run twice. The game is let go of
        before anything is awaited: a second run finds nothing to do, and the registry detaches
        the socket once, even if this run is cancelled half-way."""
        shutdown.open_sockets.discard(self)
        live, self.live = self.live, None
        address, self.address = self.address, None
        try:
            if live is None:
                return
            metrics.OPEN_SOCKETS.dec()
            try:
                with contextlib.suppress(*LAYER_ERRORS):  # a layer that is down has forgotten the group anyway
                    await self.channel_layer.group_discard(self.group, self.channel_name)
            finally:
                await registry.detach(live, self.channel_name)
        finally:
            if address is not None:  # its slot is given back however the rest went
                await limits.close_socket(address)

    async def websocket_disconnect(self, message):
        """Tidy up and stop, without Channels' closing of stale database connections on the way out:
        another hop to a worker thread, for connections this consumer never uses (see ``dispatch``)."""
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def dispatch(self, message):
        """Run the handler for ``message`` without Channels' stale-connection check before each one.

        That check is a hop to a worker thread per message; this consumer never touches the
        database on the event loop (the registry's journal thread keeps its own connection).
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # ----- Messages from the client -----------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        """Check size and rate, parse one frame and dispatch it; any refusal becomes an error for the sender."""
        if self.live is None:
            return
        registry.touch(self.live, self.channel_name)
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
            log.warning("a message to game %s met a database error: %s", self.game_id, error)
            await self.send_error("unavailable", "The server could not reach its database; try again in a moment.")

    async def on_hello(self, content):
        """Say who you are (a seat token, or none to watch) and what you already have."""
        token = optional_str(content, "token")
        last_seq = optional_int(content, "last_seq") or 0
        self.seat = await registry.identify(self.live, self.channel_name, token)
        welcome = self.live.welcome(self.seat, last_seq)
        self.seq_sent = welcome["seq"]
        self.presence_sent = self.live.presence_version
        await self.send_json(welcome)

    async def on_join(self, content):
        """Take the free seat of a waiting game.

        A join sent again after an ``unavailable`` error offers the same token, so a seat the first
        attempt took after all is found, not refused. Once the seat is taken its token must reach
        the player: if recording the connection fails, the sweeper records it later."""
        if self.seat is not None:
            raise ClientError("already_seated", f"You already hold seat {self.seat}.")
        if wait := await limits.retry_after(limits.JOIN, self.address):
            raise ClientError("rate_limited", f"Too many joins from your address; try again in {wait} seconds.")
        self.join_token = self.join_token or new_seat_token()
        seat, token, event = await registry.join(self.game_id, self.join_token)
        self.seat = seat
        with contextlib.suppress(*store.DATABASE_ERRORS):
            await registry.set_role(self.live, self.channel_name, seat)
        await self.send_json({"type": "seated", "seq": event["seq"], "seat": seat, "token": token})

    async def on_move(self, content):
        """Drop a disc; acknowledged to the mover, then broadcast to everyone as an event.

        The mover's ``ack`` always comes before its own ``move`` event. The registry commits,
        then broadcasts; the broadcast reaches this socket as a channel-layer message, and a
        socket's dispatches take turns (:func:`dispatch_in_turn`), so ``game_event`` runs for it
        only once this handler has returned, after sending the ack. Anything awaited here after
        the move must therefore not forward events before the ack is sent.

        A move the log already has gets a duplicate ack, then whatever events this client lacks:
        its own move among them if the first attempt's answer was lost to a database error.
        """
        try:
            event = await registry.move(self.game_id, self.seat, content)
        except AlreadyApplied as applied:
            await self.send_ack(content, applied.seq, duplicate=True)
            await self.forward_events()
        else:
            await self.send_ack(content, event["seq"], duplicate=False)

    async def on_resign(self, content):
        await registry.resign(self.game_id, self.seat)

    async def on_abort(self, content):
        """Call the game off before both players have moved."""
        await registry.player_abort(self.game_id, self.seat)

    async def on_claim_win(self, content):
        """Win a game the opponent has abandoned (away past the grace period)."""
        await registry.claim_win(self.game_id, self.seat)

    async def on_rematch(self, content):
        """Offer (or accept) a rematch; when both agree, everyone receives the new game's ID."""
        await registry.rematch(self.game_id, self.seat)

    async def on_ping(self, content):
        await self.send_json({"type": "pong", "seq": self.live.match.seq})

    handlers = {
        "hello": on_hello,
        "join": on_join,
        "move": on_move,
        "resign": on_resign,
        "abort": on_abort,
        "claim_win": on_claim_win,
        "rematch": on_rematch,
        "ping": on_ping,
    }

    # ----- Messages from the game's group and the sweeper --------------------

    async def game_event(self, message):
        """A committed event (from any process): brought into the cache, then forwarded once, in order."""
        await registry.observe(self.live, message)
        await self.forward_events()

    async def game_presence(self, message):
        """Who is here, counted by any process: forwarded unless this client already has a newer count."""
        presence.observe(self.live, message)
        await self.forward_presence()

    async def game_nudge(self, message):
        """The sweeper found that this game missed a broadcast: forward whatever this client lacks."""
        await self.forward_events()
        await self.forward_presence()

    async def socket_idle(self, message):
        await self.close(code=CLOSE_IDLE, reason="idle")

    # ----- Helpers ----------------------------------------------------------

    async def forward_events(self):
        """Send the events this client has not had yet (none before its welcome, which carries them)."""
        if self.seq_sent is None:
            return
        for event in self.live.history[self.seq_sent :]:
            await self.send_json(event)
        self.seq_sent = len(self.live.history)

    async def forward_presence(self):
        if self.seq_sent is None or self.live.presence_version <= self.presence_sent:
            return
        self.presence_sent = self.live.presence_version
        await self.send_json(self.live.presence())

    async def send_ack(self, content, seq: int, duplicate: bool):
        move_id = content.get("move_id")
        await self.send_json({"type": "ack", "seq": seq, "move_id": move_id, "duplicate": duplicate})

    async def send_error(self, code: str, message: str):
        metrics.error_sent(code)
        await self.send_json({"type": "error", "code": code, "message": message, "seq": self.live.match.seq})
