"""This process's own sockets, reachable without the channel layer.

A socket held by this process can be told something directly: the message is handled in its
turn with the socket's other messages, as one from the layer would be, but nothing goes through
Redis, so it arrives while the channel layer is down. The registry uses it to nudge its sockets
to forward what they lack (a broadcast that failed, events read from the log).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

_deliverers: dict[str, Callable[[dict], Awaitable[None]]] = {}  # channel name -> its socket's delivery
_under_way: set[asyncio.Task] = set()  # deliveries not yet handled (the loop keeps only weak references)


def add(channel_name: str, deliver: Callable[[dict], Awaitable[None]]) -> None:
    _deliverers[channel_name] = deliver


def discard(channel_name: str) -> None:
    _deliverers.pop(channel_name, None)


def tell(channel_name: str, message: dict) -> bool:
    """Hand ``message`` to the socket ``channel_name`` if it is on this process (False if not).
    The socket handles it in its turn; this returns at once."""
    deliver = _deliverers.get(channel_name)
    if deliver is None:
        return False
    task = asyncio.ensure_future(deliver(message))
    _under_way.add(task)
    task.add_done_callback(_under_way.discard)
    return True
