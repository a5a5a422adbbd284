"""The WebSocket endpoint of a game: parse, call the registry, send. Nothing more.

Every connection joins the channel-layer group named by the game ID. It is a
spectator until a ``hello`` carries a valid seat token (or a ``join`` claims
seat 2). Client messages are dispatched through an explicit table, so a client
can never name a channel-layer handler.
"""

import contextlib
import logging

from games import metrics
from games.core.identity import new_seat_token
from games.core.match import AlreadyApplied
from games.live import absence, connections, presence, registry, shutdown, sweeper
from games.storage import store
from games.web import limits
from games.web.sockets import (
    CLOSE_IDLE,
    CLOSE_UNAVAILABLE,
    CLOSE_UNKNOWN_GAME,
    LAYER_ERRORS,
    ClientError,
    JsonSocket,
    optional_int,
    optional_str,
)

log = logging.getLogger(__name__)


def _game_id(scope) -> str | None:
    return scope["url_route"]["kwargs"].get("game_id")


class GameConsumer(JsonSocket):
    """One browser tab, bot or spectator connected to one game."""

    live = None  # the game, once attached
    join_token = None  # the seat token this socket's join offers, kept until seated
    what = "game"

    # ----- Connection lifecycle ---------------------------------------------

    def describe(self) -> str:
        return f"socket of game {_game_id(self.scope)}"

    async def connect(self):
        self.game_id = self.scope["url_route"]["kwargs"]["game_id"]
        self.group = registry.group_name(self.game_id)
        self.seat = None
        self.seq_sent = None  # the newest seq this client has; None until welcomed
        self.presence_sent = 0  # the newest presence version this client has
        self.limit_messages()
        if not await self.take_slot():
            return
        try:
            self.live = await connections.attach(self.game_id, self.channel_name)
        except store.DATABASE_ERRORS as error:  # not counted anywhere: nothing to tidy up
            log.warning("a socket of game %s was turned away, the game could not be loaded: %s", self.game_id, error)
            await self.accept_and_close(CLOSE_UNAVAILABLE, "database unavailable")
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
        try:
            if live is None:
                return
            metrics.OPEN_SOCKETS.dec()
            try:
                with contextlib.suppress(*LAYER_ERRORS):  # a layer that is down has forgotten the group anyway
                    await self.channel_layer.group_discard(self.group, self.channel_name)
            finally:
                await connections.detach(live, self.channel_name)
        finally:
            await self.give_back_slot()  # however the rest went

    # ----- Messages from the client -----------------------------------------

    def serving(self) -> bool:
        return self.live is not None

    def heard(self) -> None:
        connections.touch(self.live, self.channel_name)

    async def on_hello(self, content):
        """Say who you are (a seat token, or none to watch) and what you already have."""
        token = optional_str(content, "token")
        last_seq = optional_int(content, "last_seq") or 0
        self.seat = await connections.identify(self.live, self.channel_name, token)
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
            await connections.set_role(self.live, self.channel_name, seat)
        await self.send_json({"type": "seated", "seq": event["seq"], "seat": seat, "token": token})

    async def on_move(self, content):
        """Drop a disc; acknowledged to the mover, then broadcast to everyone as an event.

        The mover's ``ack`` always comes before its own ``move`` event, and never waits for the
        channel layer: the registry commits, hands the event to ``acknowledge`` (the ack goes
        out), then broadcasts. The broadcast reaches this socket as a channel-layer message, and
        a socket's dispatches take turns (:func:`dispatch_in_turn`), so ``game_event`` runs for
        it only once this handler has returned. Anything awaited here after the move must
        therefore not forward events before the ack is sent.

        A move the log already has gets a duplicate ack, then whatever events this client lacks:
        its own move among them if the first attempt's answer was lost to a database error.
        """

        async def acknowledge(message: dict) -> None:
            await self.send_ack(content, message["seq"], duplicate=False)

        try:
            await registry.move(self.game_id, self.seat, content, committed=acknowledge)
        except AlreadyApplied as applied:
            await self.send_ack(content, applied.seq, duplicate=True)
            await self.forward_events()

    async def on_resign(self, content):
        await registry.resign(self.game_id, self.seat)

    async def on_abort(self, content):
        """Call the game off before both players have moved."""
        await registry.player_abort(self.game_id, self.seat)

    async def on_claim_win(self, content):
        """Win a game the opponent has abandoned (away past the grace period)."""
        await absence.claim_win(self.game_id, self.seat)

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
