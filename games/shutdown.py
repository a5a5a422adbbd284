"""Tell WebSocket clients the server is going away when it stops (a deploy's SIGTERM).

On shutdown daphne cancels every application instance; without this the
sockets just drop (1006) and clients cannot tell a deploy from a network fault.
"""

import asyncio
import contextlib

CLOSE_GOING_AWAY = 1001


class CloseOnShutdown:
    """ASGI middleware: a cancelled WebSocket application first closes its socket with 1001."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        is_open = False

        async def tracking_send(message):
            nonlocal is_open
            if message["type"] == "websocket.accept":
                is_open = True
            elif message["type"] == "websocket.close":
                is_open = False
            await send(message)

        try:
            return await self.app(scope, receive, tracking_send)
        except asyncio.CancelledError:
            if is_open:
                with contextlib.suppress(Exception):
                    await send({"type": "websocket.close", "code": CLOSE_GOING_AWAY, "reason": "server going away"})
            raise
