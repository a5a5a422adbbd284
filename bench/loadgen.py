"""The load generator: real WebSocket clients playing real Connect Four games, and what they saw.

One asyncio process drives every socket. A *table* is one game with both seats
connected; each seat reads its own socket and answers its opponent's move, at
once or after a human-like pause. Latency is taken here, from just before the
mover's ``send`` to just after the opponent's ``recv`` returns: both network
hops, the server's work, and this process's own scheduling delay.

Servers speak one of two dialects. The *game* dialect is docs/protocol.md: games
come from the JSON API, each socket says ``hello`` with its seat token, and
events carry the mover's seat and the game's status. The *relay* dialect is what
the baselines speak: game IDs are made up here, there is no greeting, and every
frame a socket receives is its opponent's move, forwarded as sent.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from time import perf_counter

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

HOST = "127.0.0.1"
COLUMNS, ROWS = 7, 6
# Games or connections opened at once while ramping up: well under the accept backlog of
# 50 that daphne gets from Twisted (a burst of connects never waits out a SYN retry), and
# few enough API calls at once that a server's database connections are not the limit.
RAMP_BATCH = 25
# How long a seat waits for its opponent's move (thinking included) before it counts a timeout.
REPLY_TIMEOUT = 30.0


class BenchError(Exception):
    """Something a run counts as an error; ``kind`` is how it is tallied."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class Board:
    """Just enough Connect Four to choose legal moves and see a game end."""

    __slots__ = ("cells", "heights", "moves", "over")

    def __init__(self):
        self.cells = [[0] * ROWS for _ in range(COLUMNS)]
        self.heights = [0] * COLUMNS
        self.moves = 0
        self.over = False

    def legal_columns(self) -> list[int]:
        return [column for column in range(COLUMNS) if self.heights[column] < ROWS]

    def play(self, column: int, seat: int) -> None:
        row = self.heights[column]
        self.cells[column][row] = seat
        self.heights[column] += 1
        self.moves += 1
        self.over = self.moves == COLUMNS * ROWS or self._four_through(column, row, seat)

    def _four_through(self, column: int, row: int, seat: int) -> bool:
        for dc, dr in ((1, 0), (0, 1), (1, 1), (1, -1)):
            run = 1
            for sign in (1, -1):
                c, r = column + dc * sign, row + dr * sign
                while 0 <= c < COLUMNS and 0 <= r < ROWS and self.cells[c][r] == seat:
                    run += 1
                    c, r = c + dc * sign, r + dr * sign
            if run >= 4:
                return True
        return False


@dataclass(frozen=True)
class Seat:
    """What one socket needs to connect: its side of the table (1 or 2, which also picks the
    server when there are two), the game, and the token that proves the seat (none: a spectator)."""

    number: int
    game_id: str
    token: str | None = None


async def post_json(port: int, path: str, body: dict | None = None, source: str | None = None) -> dict:
    """A bare HTTP/1.0 POST (no body unless given), from the loopback address ``source`` if given;
    the answer's JSON."""
    payload = json.dumps(body).encode() if body is not None else b""
    head = f"POST {path} HTTP/1.0\r\nHost: {HOST}:{port}\r\nContent-Length: {len(payload)}\r\n"
    if body is not None:
        head += "Content-Type: application/json\r\n"
    try:
        reader, writer = await asyncio.open_connection(HOST, port, local_addr=(source, 0) if source else None)
        try:
            writer.write(head.encode() + b"\r\n" + payload)
            response = await reader.read()
        finally:
            writer.close()
    except OSError as error:
        raise BenchError(f"HTTP ({type(error).__name__})") from error
    head, _, body = response.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1].decode() if head.startswith(b"HTTP/") else "no answer"
    if not status.startswith("2"):
        raise BenchError(f"HTTP {status}")
    return json.loads(body)


class GameDialect:
    """docs/protocol.md: games from the JSON API, a ``hello`` per socket, events with seats and statuses."""

    async def new_game(self, ports: tuple[int, int], opponent: bool = True) -> tuple[Seat, Seat]:
        """Create a game and take seat 2 too; without an ``opponent``, side 2 is a spectator."""
        created = await post_json(ports[0], "/api/games")
        seat_1 = Seat(1, created["id"], created["token"])
        if not opponent:
            return seat_1, Seat(2, created["id"])
        joined = await post_json(ports[1], f"/api/games/{created['id']}/join")
        return seat_1, Seat(2, created["id"], joined["token"])

    async def greet(self, ws: ClientConnection, seat: Seat) -> None:
        try:
            await ws.send(json.dumps({"type": "hello", "token": seat.token} if seat.token else {"type": "hello"}))
            async with asyncio.timeout(REPLY_TIMEOUT):
                welcome = json.loads(await ws.recv())
        except (ConnectionClosed, TimeoutError):
            raise BenchError("greeting") from None
        if welcome["type"] != "welcome":
            raise BenchError(f"error frame ({welcome.get('code')})")

    def is_opponent_move(self, message: dict, seat: int, board: Board) -> bool:
        """The opponent's move event; acks, our own moves and presence are not. Errors raise."""
        kind = message["type"]
        if kind == "error":
            raise BenchError(f"error frame ({message['code']})")
        if kind != "move" or message["seat"] == seat:
            return False
        if (message["status"] != "playing") != board.over:
            raise BenchError("status differs from the board")
        return True


class RelayDialect:
    """The baselines: game IDs made up here, no greeting, every frame is the opponent's move as sent."""

    async def new_game(self, ports: tuple[int, int], opponent: bool = True) -> tuple[Seat, Seat]:
        game_id = secrets.token_hex(6)
        return Seat(1, game_id), Seat(2, game_id)

    async def greet(self, ws: ClientConnection, seat: Seat) -> None:
        return None

    def is_opponent_move(self, message: dict, seat: int, board: Board) -> bool:
        return True


@dataclass(frozen=True)
class Target:
    """Where a run's sockets go and how they talk: seat 1 to ``ports[0]``, seat 2 to ``ports[1]``."""

    dialect: GameDialect | RelayDialect
    ports: tuple[int, int]

    async def new_game(self, opponent: bool = True) -> tuple[Seat, Seat]:
        return await self.dialect.new_game(self.ports, opponent)

    async def connect(self, seat: Seat) -> ClientConnection:
        """One socket for ``seat``, greeted and ready; failures raise BenchError."""
        port = self.ports[seat.number - 1]
        try:
            ws = await connect(
                f"ws://{HOST}:{port}/ws/games/{seat.game_id}/",
                origin=f"http://{HOST}:{port}",
                compression=None,  # browsers offer deflate, but daphne does not take it: keep all servers equal
                ping_interval=None,  # the servers ping; extra pings from here would only add noise
                close_timeout=2,
                open_timeout=REPLY_TIMEOUT,
                proxy=None,
            )
        except (OSError, InvalidHandshake, TimeoutError) as error:
            raise BenchError(f"connect ({type(error).__name__})") from error
        try:
            await self.dialect.greet(ws, seat)
        except BaseException:
            await ws.close()
            raise
        return ws


@dataclass
class Recorder:
    """What a run saw: errors from the first connection until teardown begins, the rest inside the window."""

    latencies: list[float] = field(default_factory=list)  # seconds, one per move that reached the opponent
    errors: Counter = field(default_factory=Counter)
    games_finished: int = 0
    measuring: bool = False
    closing: bool = False

    def error(self, kind: str) -> None:
        if not self.closing:
            self.errors[kind] += 1

    def game_finished(self) -> None:
        if self.measuring:
            self.games_finished += 1


async def in_batches(make: Callable[[int], Awaitable], count: int, batch: int = RAMP_BATCH) -> list:
    """``make(i)`` for every ``i < count``, ``batch`` at a time, so the servers see a ramp, not a flood."""
    results = []
    for start in range(0, count, batch):
        results += await asyncio.gather(*(make(i) for i in range(start, min(count, start + batch))))
    return results


class Table:
    """One game being played: both seats' sockets, the board they share, and when the last move left."""

    def __init__(self, sockets: dict[int, ClientConnection]):
        self.sockets = sockets
        self.board = Board()
        self.sent_at = 0.0

    async def move(self, seat: int, rng: random.Random) -> None:
        column = rng.choice(self.board.legal_columns())
        self.board.play(column, seat)
        self.sent_at = perf_counter()
        await self.sockets[seat].send(f'{{"type":"move","column":{column},"move_id":"{seat}-{self.board.moves}"}}')

    async def close(self) -> None:
        await asyncio.gather(*(ws.close() for ws in self.sockets.values()))


async def open_table(target: Target) -> Table:
    """A new game with both seats connected and greeted, so the first move reaches a listening opponent."""
    seats = await target.new_game()
    sockets = {}
    try:
        for seat in seats:
            sockets[seat.number] = await target.connect(seat)
    except BaseException:
        await asyncio.gather(*(ws.close() for ws in sockets.values()))
        raise
    return Table(sockets)


async def prime(target: Target) -> None:
    """Open and close one game, so a server's first-use costs (imports, caches) come before any baseline."""
    await (await open_table(target)).close()


class Games:
    """Keep ``count`` games going until the block exits; a finished (or failed) game is replaced by a new one.

    Each seat replies as soon as its opponent's move arrives, or after ``think()``
    seconds when given (human pace, which also delays each game's first move).
    Opening the first ``count`` tables happens on entry, before any measuring.
    """

    def __init__(self, target: Target, count: int, recorder: Recorder, think: Callable[[], float] | None = None):
        self.target, self.count, self.recorder, self.think = target, count, recorder, think
        self.rng = random.Random(count)
        self.tasks: list[asyncio.Task] = []

    async def __aenter__(self) -> Games:
        tables = await in_batches(lambda _: self._open(), self.count)
        self.tasks = [asyncio.create_task(self._keep_playing(table)) for table in tables]
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.recorder.closing = True
        for task in self.tasks:
            task.cancel()
        ended = await asyncio.gather(*self.tasks, return_exceptions=True)
        if bugs := [outcome for outcome in ended if isinstance(outcome, Exception)]:
            raise bugs[0]  # not a server's fault (those are BenchErrors, counted): a bug here

    async def _open(self) -> Table | None:
        try:
            return await open_table(self.target)
        except BenchError as error:
            self.recorder.error(error.kind)
            return None

    async def _keep_playing(self, table: Table | None) -> None:
        while True:
            if table is None:
                await asyncio.sleep(1)  # the server refused a new game: don't spin against it
            else:
                try:
                    await self._play(table)
                finally:
                    await table.close()
            table = await self._open()

    async def _play(self, table: Table) -> None:
        """One game to its end; the first error in either seat ends it and is counted once."""
        try:
            async with asyncio.TaskGroup() as seats:
                seats.create_task(self._play_seat(table, 1))
                seats.create_task(self._play_seat(table, 2))
        except* BenchError as failed:
            self.recorder.error(failed.exceptions[0].kind)
        else:
            self.recorder.game_finished()

    async def _play_seat(self, table: Table, seat: int) -> None:
        try:
            await self._take_turns(table, seat)
        except TimeoutError:
            raise BenchError("timeout") from None
        except ConnectionClosed:
            raise BenchError("closed") from None
        except (KeyError, ValueError):
            raise BenchError("unexpected frame") from None

    async def _take_turns(self, table: Table, seat: int) -> None:
        ws, board, recorder = table.sockets[seat], table.board, self.recorder
        if seat == 1:
            await self._pause()
            await table.move(seat, self.rng)
        while not board.over:
            async with asyncio.timeout(REPLY_TIMEOUT):
                frame = await ws.recv()
            arrived = perf_counter()
            if not self.target.dialect.is_opponent_move(json.loads(frame), seat, board):
                continue
            if recorder.measuring:
                recorder.latencies.append(arrived - table.sent_at)
            if not board.over:
                await self._pause()
                await table.move(seat, self.rng)

    async def _pause(self) -> None:
        if self.think is not None:
            await asyncio.sleep(self.think())


async def open_idle(target: Target, games: list[tuple[Seat, Seat]], recorder: Recorder) -> list[ClientConnection]:
    """Both sides of every game connected (and greeted), then left alone; failures are counted."""
    seats = [seat for pair in games for seat in pair]

    async def open_one(i: int) -> ClientConnection | None:
        try:
            return await target.connect(seats[i])
        except BenchError as error:
            recorder.error(error.kind)
            return None

    return [ws for ws in await in_batches(open_one, len(seats)) if ws is not None]


async def waiting_games(target: Target, count: int, recorder: Recorder) -> list[tuple[Seat, Seat]]:
    """``count`` games waiting for an opponent, each with its creator and one spectator, not yet connected."""

    async def new_one(_: int) -> tuple[Seat, Seat] | None:
        try:
            return await target.new_game(opponent=False)
        except BenchError as error:
            recorder.error(error.kind)
            return None

    return [pair for pair in await in_batches(new_one, count) if pair is not None]


async def close_all(sockets: list[ClientConnection]) -> None:
    await in_batches(lambda i: sockets[i].close(), len(sockets), batch=500)


@dataclass
class FlagRecorder:
    """How late each flag fell at each client: from the clock's deadline to the ``timeout`` event's arrival."""

    lateness: list[float] = field(default_factory=list)  # seconds, one per client per game
    missed: Counter = field(default_factory=Counter)  # games whose timeout never came, by what went wrong
    decided: list[float] = field(default_factory=list)  # seconds, one per game: the timeout's own `at` - deadline


async def _await_timeout(ws: ClientConnection) -> tuple[float, float]:
    """Read until the ``timeout`` event: the wall-clock time it arrived (the server's clock is this
    machine's), and the time the server says the flag fell, both in seconds."""
    while True:
        message = json.loads(await ws.recv())
        if message["type"] == "timeout":
            return time.time(), message["at"] / 1000
        if message["type"] in ("error", "aborted") or message.get("status") == "finished":
            raise BenchError(f"no timeout ({message.get('code') or message['type']})")


async def flag_one(target: Target, game: tuple[str, str], delay: float, recorder: FlagRecorder) -> None:
    """After ``delay`` seconds, seat both players of a timed game, play the two first moves (which
    start seat 1's clock), then let seat 1's clock run out and time the ``timeout`` at both clients."""
    await asyncio.sleep(delay)
    game_id, token = game
    sockets: list[ClientConnection] = []
    try:
        joined = await post_json(target.ports[1], f"/api/games/{game_id}/join")
        for seat in (Seat(1, game_id, token), Seat(2, game_id, joined["token"])):
            sockets.append(await target.connect(seat))
        for number, mover in enumerate(sockets, start=1):
            await mover.send(json.dumps({"type": "move", "column": number}))
            while (event := json.loads(await mover.recv()))["type"] != "move" or event["seat"] != number:
                if event["type"] == "error":
                    raise BenchError(f"error frame ({event['code']})")
        deadline = (event["at"] + event["clocks"][0]) / 1000  # seat 1's main clock runs from yellow's move
        async with asyncio.timeout(deadline - time.time() + REPLY_TIMEOUT):
            seen = await asyncio.gather(*(_await_timeout(ws) for ws in sockets))
        recorder.lateness += [arrived - deadline for arrived, _ in seen]
        recorder.decided.append(seen[0][1] - deadline)
    except BenchError as error:
        recorder.missed[error.kind] += 1
    except (TimeoutError, ConnectionClosed):
        recorder.missed["no timeout event"] += 1
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))


async def flag_all(target: Target, games: list[tuple[str, str]], span: float, recorder: FlagRecorder) -> None:
    """Every game's flag, their start times spread evenly over ``span`` seconds."""
    step = span / max(1, len(games) - 1)
    await asyncio.gather(*(flag_one(target, game, i * step, recorder) for i, game in enumerate(games)))


@dataclass
class PairingRecorder:
    """When each game's two seekers were told, keyed by game: from the second seek's request to the
    later of the two tellings (its own answer, the first seeker's ``paired`` message)."""

    started: dict[str, float] = field(default_factory=dict)  # game ID -> the second seek's request sent
    told: dict[str, list[float]] = field(default_factory=dict)  # game ID -> when each seeker learnt of it
    errors: Counter = field(default_factory=Counter)
    seeks: int = 0

    def latencies(self) -> list[float]:
        return [max(self.told[game]) - sent for game, sent in self.started.items() if len(self.told.get(game, ())) == 2]


async def seek_once(target: Target, number: int, time_control: str, recorder: PairingRecorder) -> None:
    """One stranger (its own loopback address) seeks through the API, then waits on its seek's socket
    unless the answer says it was paired already. Seeker ``number`` talks to process ``number % 2``."""
    port = target.ports[number % 2]
    source = f"127.{1 + number // 62500}.{1 + number // 250 % 250}.{1 + number % 250}"
    sent = perf_counter()
    try:
        seek = await post_json(port, "/api/seeks", {"time_control": time_control}, source)
    except BenchError as error:
        recorder.errors[error.kind] += 1
        return
    recorder.seeks += 1
    if seek["status"] == "paired":
        game_id = seek["game"]["id"]
        recorder.started[game_id] = sent
        recorder.told.setdefault(game_id, []).append(perf_counter())
        return
    try:
        async with connect(
            f"ws://{HOST}:{port}/ws/seeks/{seek['id']}/",
            origin=f"http://{HOST}:{port}",
            compression=None,
            ping_interval=None,
            open_timeout=REPLY_TIMEOUT,
            proxy=None,
            local_addr=(source, 0),
        ) as ws:
            await ws.send(json.dumps({"type": "hello", "token": seek["token"]}))
            async with asyncio.timeout(REPLY_TIMEOUT):
                while (message := json.loads(await ws.recv()))["type"] == "seeking":
                    pass
            if message["type"] != "paired":
                raise BenchError(f"seek {message['type']} ({message.get('code') or message.get('status')})")
            recorder.told.setdefault(message["game_id"], []).append(perf_counter())
    except BenchError as error:
        recorder.errors[error.kind] += 1
    except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError) as error:
        recorder.errors[f"seek socket ({type(error).__name__})"] += 1


async def seek_steadily(target: Target, rate: float, seconds: float, recorder: PairingRecorder) -> None:
    """``rate`` seeks a second for ``seconds``, all for the same time control; wait for every one."""
    tasks, started = [], perf_counter()
    for number in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, started + number / rate - perf_counter()))
        tasks.append(asyncio.create_task(seek_once(target, number, "3+2", recorder)))
    await asyncio.gather(*tasks)


@dataclass
class ComputerRecorder:
    """S7: the computer's moves that reached its opponent, and errors on the way."""

    replies: int = 0  # inside the window
    errors: Counter = field(default_factory=Counter)
    measuring: bool = False
    closing: bool = False


class ComputerGames:
    """Keep ``count`` games against the computer at ``level`` going until the block exits: each
    person answers the computer's move at once, so the computer is always thinking (or queued to)."""

    def __init__(self, target: Target, count: int, level: int, recorder: ComputerRecorder):
        self.target, self.count, self.level, self.recorder = target, count, level, recorder
        self.rng = random.Random(count)
        self.tasks: list[asyncio.Task] = []

    async def __aenter__(self) -> ComputerGames:
        self.tasks = [asyncio.create_task(self._keep_playing()) for _ in range(self.count)]
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.recorder.closing = True
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _keep_playing(self) -> None:
        while True:
            try:
                await self._play_one()
            except (BenchError, TimeoutError, ConnectionClosed, KeyError, ValueError) as error:
                if not self.recorder.closing:
                    self.recorder.errors[getattr(error, "kind", type(error).__name__)] += 1
                await asyncio.sleep(1)

    async def _play_one(self) -> None:
        body = {"opponent": "computer", "level": self.level, "seat": 1}
        created = await post_json(self.target.ports[0], "/api/games", body)
        ws = await self.target.connect(Seat(1, created["id"], created["token"]))
        board = Board()
        try:
            while not board.over:
                column = self.rng.choice(board.legal_columns())
                board.play(column, 1)
                await ws.send(json.dumps({"type": "move", "column": column}))
                while not board.over:  # our own move comes back, then the computer's
                    async with asyncio.timeout(REPLY_TIMEOUT):
                        message = json.loads(await ws.recv())
                    if message.get("type") == "move" and message["seat"] == 2:
                        board.play(message["column"], 2)
                        if self.recorder.measuring:
                            self.recorder.replies += 1
                        break
                    if message.get("type") in ("resigned", "timeout", "aborted", "abandoned"):
                        return
        finally:
            await ws.close()
