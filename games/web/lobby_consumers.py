"""The WebSocket endpoints of the lobby: a seeker waiting to be paired, and the live lists.

Thin, like the game's: parse, call games/live/seeking.py or games/live/lobby.py, send.
"""

import asyncio
import contextlib
import logging

from games.live import lobby, seeking, shutdown, sweeper
from games.live.game import now_ms
from games.storage import pool, store
from games.web.sockets import (
    CLOSE_BAD_TOKEN,
    CLOSE_UNAVAILABLE,
    CLOSE_UNKNOWN_GAME,
    LAYER_ERRORS,
    ClientError,
    JsonSocket,
    optional_str,
)

log = logging.getLogger(__name__)

CLOSE_NORMAL = 1000
# After paired or ended the client closes the socket; one that does not is closed after this long.
# Closing at once would race the message: a close that reaches a proxy first can reset the
# connection and lose the message still on its way.
LINGER_SECONDS = 10
_closing: set[asyncio.Task] = set()  # lingering sockets being closed (the loop keeps only weak references)


class GroupSocket(JsonSocket):
    """A socket that, once accepted, listens to one channel-layer group (``group``) and is counted
    among this process's open sockets (a deploy's SIGTERM closes it with 1001)."""

    group = ""
    in_group = False

    def serving(self) -> bool:
        return self.in_group

    async def open_in_group(self) -> None:
        await self.accept()
        self.accepted = True
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.in_group = True
        shutdown.open_sockets.add(self)
        sweeper.ensure_running()

    async def leave_group(self) -> None:
        """Out of the group and no longer counted; safe to run twice."""
        shutdown.open_sockets.discard(self)
        in_group, self.in_group = self.in_group, False
        if in_group:
            with contextlib.suppress(*LAYER_ERRORS):  # a layer that is down has forgotten the group anyway
                await self.channel_layer.group_discard(self.group, self.channel_name)


class SeekConsumer(GroupSocket):
    """One seeker's socket (Play now): greeted with the seek's token, it is told when the seek is
    paired (with its seat token) or ends, and it may cancel. While it is open, the seeker is
    pairable; when the seeker's last socket closes, the seek keeps its place for a grace period."""

    what = "seek"
    token = None  # the seek's secret, once the client proved it holds it
    finished = False  # paired or ended has been sent: nothing more is
    lingering = None  # the timer that closes a finished socket its client keeps open

    async def connect(self):
        """Nothing is read yet: the seek is looked up once, when the socket says hello."""
        self.seek_id = self.scope["url_route"]["kwargs"]["seek_id"]
        self.group = seeking.group_name(self.seek_id)
        self.limit_messages()
        if not await self.take_slot():
            return
        await self.open_in_group()

    async def disconnect(self, code):
        """Out of the seek's group, and no longer counted here; runs on every exit path, maybe twice."""
        greeted, self.token = self.token is not None, None
        if self.lingering is not None:
            self.lingering.cancel()
        try:
            await self.leave_group()
            if greeted:
                await seeking.detach(self.seek_id, self.channel_name)
        finally:
            await self.give_back_slot()

    def serving(self) -> bool:
        return self.in_group and not self.finished

    # ----- Messages from the client -----------------------------------------

    async def on_hello(self, content):
        """Prove the seek is yours (its token); you are then pairable and hear how it stands."""
        token = optional_str(content, "token") or ""
        if self.token is not None:
            raise ClientError("already_greeted", "This socket has said hello already.")
        try:
            found = await seeking.attach(self.seek_id, self.channel_name, token)
        except pool.WrongToken:
            await self.send_error("bad_token", "That is not this seek's token.")
            await self.finish(CLOSE_BAD_TOKEN, "bad token")
            return
        if found is None:
            await self.finish(CLOSE_UNKNOWN_GAME, "unknown seek")
            return
        self.token = token
        await self.send_state(found)

    async def on_cancel(self, content):
        """Stop seeking; if the seek was paired first, you hear that instead."""
        self.require_greeting()
        await self.send_state(await seeking.end(self.seek_id, pool.CANCELLED))

    async def on_ping(self, content):
        await self.send_json({"type": "pong"})

    handlers = {"hello": on_hello, "cancel": on_cancel, "ping": on_ping}

    def require_greeting(self) -> None:
        if self.token is None:
            raise ClientError("not_greeted", "Say hello with the seek's token first.")

    # ----- Messages from the seek's group -----------------------------------

    async def seek_paired(self, message):
        if self.token is not None:  # only a socket that proved the seek is its own gets the seat token
            await self.send_paired(message["game_id"], message["seat"])

    async def seek_ended(self, message):
        if self.token is not None:
            await self.send_ended(message["status"])

    # ----- Helpers ----------------------------------------------------------

    async def send_state(self, found: pool.Ticket | None):
        if found is None or found.status in (pool.CANCELLED, pool.EXPIRED, pool.REMOVED):
            await self.send_ended(found.status if found else pool.EXPIRED)
        elif found.status == pool.PAIRED:
            await self.send_paired(found.game_id, found.seat)
        elif not self.finished:
            created = int(found.created_at.timestamp() * 1000)
            seek = {"id": found.id, "time_control": found.time_control, "status": found.status}
            seek.update(created_at=created, waited_ms=max(0, now_ms() - created))
            await self.send_json({"type": "seeking", "seek": seek})

    async def send_paired(self, game_id: str, seat: int):
        """The game, your seat and its token (the seek's own): the socket's work is done."""
        if self.finished:
            return
        self.finished = True
        await self.send_json(
            {
                "type": "paired",
                "seek_id": self.seek_id,
                "game_id": game_id,
                "seat": seat,
                "token": self.token,
                "url": f"/g/{game_id}/",
                "websocket": f"/ws/games/{game_id}/",
            }
        )
        self.linger()

    async def finish(self, code: int, reason: str):
        self.finished = True
        await self.close(code=code, reason=reason)

    async def send_ended(self, status: str):
        if self.finished:
            return
        self.finished = True
        await self.send_json({"type": "ended", "seek_id": self.seek_id, "status": status})
        self.linger()

    def linger(self):
        """Leave the closing to the client, for a while."""

        def close_now():
            task = asyncio.ensure_future(self.close(code=CLOSE_NORMAL))
            _closing.add(task)
            task.add_done_callback(_closing.discard)

        self.lingering = asyncio.get_running_loop().call_later(LINGER_SECONDS, close_now)


class LobbyConsumer(GroupSocket):
    """The lobby's lists, live: sent when the socket opens, then again whenever they change."""

    what = "lobby"
    group = lobby.GROUP
    as_of = 0  # when the lists this client has were read

    async def connect(self):
        self.limit_messages()
        if not await self.take_slot():
            return
        try:
            lists = await lobby.current()
        except store.DATABASE_ERRORS as error:
            log.warning("a lobby socket was turned away, the database failed: %s", error)
            await self.accept_and_close(CLOSE_UNAVAILABLE, "database unavailable")
            return
        await self.open_in_group()
        lobby.attach(self.channel_name)
        await self.send_lists(lists)

    async def disconnect(self, code):
        lobby.detach(self.channel_name)
        try:
            await self.leave_group()
        finally:
            await self.give_back_slot()

    async def on_ping(self, content):
        await self.send_json({"type": "pong"})

    handlers = {"ping": on_ping}

    async def lobby_lists(self, message):
        await self.send_lists(message["lists"])

    async def send_lists(self, lists: dict):
        """Newer lists than the client has, never older ones (two processes' pushes may cross)."""
        if lists["as_of"] < self.as_of:
            return
        self.as_of = lists["as_of"]
        await self.send_json({"type": "lobby", **lists})
