"""A small protocol client over real WebSockets, for tests against real server processes."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

COLUMNS, ROWS = 7, 6
PREFERENCE = [3, 2, 4, 1, 5, 0, 6]


def api(base_url: str, path: str, method: str = "POST") -> dict:
    request = urllib.request.Request(base_url + path, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


class Player:
    """One seat (or a spectator) speaking the documented protocol, keeping what it has seen."""

    def __init__(self, base_url: str, game_id: str, token: str | None = None):
        self.base_url, self.game_id, self.token = base_url, game_id, token
        self.ws = None
        self.seq = 0
        self.seat = None
        self.state: dict = {}
        self.heights = [0] * COLUMNS
        self.events: list[dict] = []  # every event seen, in order, each once
        self.acked: dict[str, int] = {}  # move_id -> seq

    async def connect(self) -> dict:
        url = self.base_url.replace("http", "ws", 1) + f"/ws/games/{self.game_id}/"
        self.ws = await connect(url, origin=self.base_url, open_timeout=10)
        hello = {"type": "hello", "last_seq": self.seq}
        if self.token:
            hello["token"] = self.token
        await self.send(hello)
        welcome = await self.receive("welcome")
        self.seat = welcome["seat"]
        if welcome["complete"]:
            for event in welcome["events"]:
                self._apply(event)
        self._set_state(welcome["game"])
        self.heights = [sum(1 for row in welcome["game"]["board"] if row[c]) for c in range(COLUMNS)]
        return welcome

    async def send(self, message: dict) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, *types: str, timeout: float = 10) -> dict:
        """The next message of one of ``types`` (any, if none given); events on the way are recorded."""
        async with asyncio.timeout(timeout):
            while True:
                message = json.loads(await self.ws.recv())
                if message["type"] == "ack":
                    self.acked[message["move_id"]] = message["seq"]
                elif "status" in message and message["type"] != "welcome":
                    self._apply(message)
                if not types or message["type"] in types:
                    return message

    def _apply(self, event: dict) -> None:
        assert event["seq"] == self.seq + 1, f"event {event['seq']} after {self.seq}: skipped or repeated"
        self.seq = event["seq"]
        self.events.append(event)
        if event["type"] == "move":
            self.heights[event["column"]] += 1
        self._set_state(event)

    def _set_state(self, state: dict) -> None:
        self.seq = state["seq"]
        self.state = {k: state[k] for k in ("status", "turn", "winner", "result")}

    @property
    def my_turn(self) -> bool:
        return self.state.get("status") == "playing" and self.state.get("turn") == self.seat

    def choose(self) -> int:
        return next(c for c in PREFERENCE if self.heights[c] < ROWS)

    async def move(self, column: int | None = None, move_id: str | None = None) -> dict:
        """Play and wait for the ack."""
        move_id = move_id or uuid.uuid4().hex
        await self.send({"type": "move", "column": self.choose() if column is None else column, "move_id": move_id})
        return await self.receive("ack", "error")

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def closed_code(self, timeout: float = 15) -> int:
        """Wait for the server to close this socket; its close code (1006 if it just vanished)."""
        return (await self.close_frame(timeout))[0]

    async def close_frame(self, timeout: float = 15) -> tuple[int, str]:
        """Wait for the server to close this socket; its close code and reason (1006 and "" if it just vanished)."""
        return await close_frame(self.ws, timeout)


async def close_frame(ws, timeout: float = 15) -> tuple[int, str]:
    """Read a client socket until the server closes it: the close frame's code and reason."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (1006, "")


async def new_table(base_url: str) -> tuple[Player, Player]:
    """A game with both seats taken over the JSON API, both players connected."""
    created = api(base_url, "/api/games")
    joined = api(base_url, f"/api/games/{created['id']}/join")
    red = Player(base_url, created["id"], created["token"])
    yellow = Player(base_url, created["id"], joined["token"])
    await red.connect()
    await yellow.connect()
    return red, yellow


async def play_turns(red: Player, yellow: Player, turns: int) -> None:
    """Alternate legal moves, each acknowledged and seen by the opponent."""
    for _ in range(turns):
        mover, other = (red, yellow) if red.my_turn else (yellow, red)
        if not mover.my_turn:
            return
        ack = await mover.move()
        assert ack["type"] == "ack", ack
        await mover.receive("move")
        await other.receive("move")


async def play_to_the_end(red: Player, yellow: Player) -> None:
    await play_turns(red, yellow, COLUMNS * ROWS)
    assert red.state["status"] == yellow.state["status"] == "finished"


OVER = ("finished", "aborted")
# Errors a move can meet when another connection of the same seat, or a crash, got there first.
LOST_RACE = {"not_your_turn", "column_full", "game_over"}


async def play_out(player: Player, timeout: float = 120) -> None:
    """Play this seat (or watch) to the end, as a browser does: on any drop, reconnect and resend the
    unacknowledged move."""
    pending: dict | None = None
    known = 0  # the server's seq as of its last answer: the ack can come before the event itself
    async with asyncio.timeout(timeout):
        while player.state.get("status") not in OVER:
            try:
                if player.ws is None:
                    await player.connect()
                    if pending is not None:
                        await player.send(pending)
                if pending is None and player.my_turn and player.seq >= known:
                    pending = {"type": "move", "column": player.choose(), "move_id": uuid.uuid4().hex}
                    await player.send(pending)
                message = await player.receive(timeout=5)
                if message["type"] == "ack" and pending and message["move_id"] == pending["move_id"]:
                    pending, known = None, message["seq"]
                elif message["type"] == "error":
                    assert message["code"] in LOST_RACE, message
                    pending, known = None, message["seq"]
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError):
                # The process died, the layer restarted, or events stopped: start again from the welcome.
                if player.ws is not None:
                    await player.ws.close()
                player.ws = None
                await asyncio.sleep(0.2)


async def post_from(base_url: str, path: str, source: str, body: dict | None = None) -> tuple[int, dict]:
    """An API POST from the loopback address ``source`` (each seeker a stranger with its own address)."""
    host, port = base_url.removeprefix("http://").split(":")
    payload = json.dumps(body or {}).encode()
    reader, writer = await asyncio.open_connection(host, int(port), local_addr=(source, 0))
    try:
        writer.write(
            f"POST {path} HTTP/1.0\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
            + payload
        )
        response = await reader.read()
    finally:
        writer.close()
    head, _, answer = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(answer)


class Seeker:
    """A stranger pressing Play now through the API: a seek, then its socket until it is paired."""

    def __init__(self, base_url: str, source: str, time_control: str = "3+2"):
        self.base_url, self.source, self.time_control = base_url, source, time_control
        self.seek: dict = {}
        self.ws = None
        self.paired: dict | None = None
        self.reconnects = 0

    async def create(self) -> dict:
        status, self.seek = await post_from(
            self.base_url, "/api/seeks", self.source, {"time_control": self.time_control}
        )
        assert status == 201, self.seek
        return self.seek

    async def connect(self) -> dict:
        """Open the seek's socket (through whatever is at ``base_url``) and say hello; where it stands."""
        url = self.base_url.replace("http", "ws", 1) + f"/ws/seeks/{self.seek['id']}/"
        self.ws = await connect(url, origin=self.base_url, open_timeout=10, local_addr=(self.source, 0))
        await self.ws.send(json.dumps({"type": "hello", "token": self.seek["token"]}))
        return await self.next()

    async def next(self, timeout: float = 30) -> dict:
        async with asyncio.timeout(timeout):
            message = json.loads(await self.ws.recv())
        if message["type"] == "paired":
            self.paired = message
        return message

    async def until_paired(self, timeout: float = 60) -> dict:
        """Wait for ``paired``, reconnecting (as the page does) if the socket drops meanwhile."""
        async with asyncio.timeout(timeout):
            while self.paired is None:
                try:
                    await self.next(timeout)
                except ConnectionClosed:
                    self.reconnects += 1
                    await asyncio.sleep(0.2 * self.reconnects)  # a backoff, as any client should
                    try:
                        await self.connect()
                    except (OSError, InvalidHandshake, ConnectionClosed):
                        continue
        return self.paired

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
