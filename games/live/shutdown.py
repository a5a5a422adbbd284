"""Tell WebSocket clients the server is going away when it stops (a deploy's SIGTERM).

Without this the sockets just drop (1006) and clients cannot tell a deploy from
a network fault. Daphne runs on Twisted, so we hook Twisted's shutdown: before
the reactor stops, every open game socket is closed with 1001 and clients
reconnect to the next process at once.
"""

import asyncio
import contextlib
import logging
import sys
import weakref

CLOSE_GOING_AWAY = 1001

log = logging.getLogger(__name__)

# Consumers whose socket is open in this process.
open_sockets: weakref.WeakSet = weakref.WeakSet()


async def close_all(code: int = CLOSE_GOING_AWAY) -> int:
    """Close every open game socket with ``code``; return how many there were."""
    consumers = list(open_sockets)
    for consumer in consumers:
        with contextlib.suppress(Exception):  # a socket that vanished meanwhile needs no goodbye
            await consumer.close(code=code, reason="server going away")
    return len(consumers)


def install() -> None:
    """Under daphne, run close_all before the reactor shuts down; elsewhere do nothing.

    Called when the server starts to run (config/websocket_protocol.py), before daphne adds its
    own trigger that cancels every application; its lean connections deliver code 1001, which
    daphne's own would refuse."""
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None:
        return
    from twisted.internet.defer import Deferred

    def before_shutdown():
        async def goodbye():
            count = await close_all()
            log.info("closed %d game socket(s) with 1001 before shutdown", count)
            await asyncio.sleep(0.2)  # let the close frames reach the wire before the reactor stops

        return Deferred.fromFuture(asyncio.ensure_future(goodbye()))

    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)
