"""What ``/readyz`` checks: can this process reach the database and the channel layer right now?

``/healthz`` only says the process answers; a load balancer should send players
here only when both checks pass, since a move needs the one and its broadcast the other.
"""

import asyncio
import contextlib

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import connection

TIMEOUT_SECONDS = 2


@database_sync_to_async
def _query_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def _round_trip_channel_layer() -> None:
    """A message to a fresh channel of our own and back: the path every broadcast takes."""
    layer = get_channel_layer()
    channel = await layer.new_channel("readyz")
    try:
        await layer.send(channel, {"type": "readyz.ping"})
        message = await layer.receive(channel)
    finally:
        await _close(layer, channel)
    if message.get("type") != "readyz.ping":
        raise RuntimeError("the channel layer returned another message")


async def _close(layer, channel: str) -> None:
    """Let the layer forget the channel (Redis pub/sub would stay subscribed to it for good).
    A layer closes a channel when a receive on it is cancelled, as at the end of a consumer."""
    waiting = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)  # let it start waiting, so that the cancellation runs its clean-up
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting


async def _check(probe) -> str:
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            await probe()
    except Exception as error:  # any failure means "not ready"; the reason is for operators
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return "ok"


async def checks() -> dict[str, str]:
    """Each dependency and "ok" or why it failed."""
    database, layer = await asyncio.gather(_check(_query_database), _check(_round_trip_channel_layer))
    return {"database": database, "channel_layer": layer}
