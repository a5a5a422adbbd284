"""Baseline (a): the least a WebSocket relay can do, on the ``websockets`` library.

Sockets on the same path (``/ws/games/<id>/``) form a room, and every frame is
forwarded as is to the room's other sockets. No validation, no persistence, no
channel layer: a floor under any one-process Python server doing this job.

Run: ``python -m bench.baselines.ws_relay --port 8001``
"""

import argparse
import asyncio
import logging
from collections import defaultdict

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosedError

rooms: dict[str, set[ServerConnection]] = defaultdict(set)


async def relay(websocket: ServerConnection) -> None:
    path = websocket.request.path
    room = rooms[path]
    room.add(websocket)  # before the first await: a frame sent right after the handshake finds the room complete
    try:
        async for message in websocket:
            broadcast([other for other in room if other is not websocket], message)
    except ConnectionClosedError:
        pass  # a client that vanished without a close frame is no error for a relay
    finally:
        room.discard(websocket)
        if not room:
            del rooms[path]


async def main(port: int) -> None:
    async with serve(relay, "127.0.0.1", port) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(parser.parse_args().port))
