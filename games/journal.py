"""The socket path's database thread: one lasting connection, and moves committed in groups.

Channels' ``database_sync_to_async`` closes the connection after every call
(right for HTTP request threads, which come and go), so each move would pay for
opening a connection, and on SQLite for the write-ahead-log checkpoint that
closing the last connection does. The socket path instead runs its database work
here, on one thread that keeps its connection.

Appends are committed in groups: while one transaction commits, the appends of
other games queue up, and the next transaction commits all of them. Each append
still succeeds or fails on its own (``StaleGame``), and nobody hears of a move
before the transaction holding it has committed.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connection

from games import store

_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
_queue: list[tuple[store.Append, asyncio.Future]] = []
_committer: asyncio.Task | None = None


def _tidy() -> None:
    """Keep the connection unless it broke (the next call then opens a fresh one)."""
    if connection.connection is None:
        return
    if connection.in_atomic_block or (connection.errors_occurred and not connection.is_usable()):
        connection.close()
    connection.errors_occurred = False


def _call(function: Callable, args: tuple, kwargs: dict) -> Any:
    try:
        return function(*args, **kwargs)
    finally:
        _tidy()


async def run(function: Callable, *args, **kwargs) -> Any:
    """``function(*args, **kwargs)`` on the journal thread, with its lasting connection."""
    call = functools.partial(_call, function, args, kwargs)
    return await asyncio.get_running_loop().run_in_executor(_thread, call)


async def append(append: store.Append) -> None:
    """Commit ``append`` (with whatever else is queued); raises StaleGame if its game moved on."""
    global _committer
    done = asyncio.get_running_loop().create_future()
    _queue.append((append, done))
    if _committer is None or _committer.done():
        _committer = asyncio.ensure_future(_commit_queued())
    await done


async def _commit_queued() -> None:
    while _queue:
        group = _queue[:]
        _queue.clear()
        try:
            outcomes = await run(store.append_many, [append for append, _ in group])
        except Exception as error:  # the database is unreachable: every waiting append hears why
            outcomes = [error] * len(group)
        for (_, done), outcome in zip(group, outcomes, strict=True):
            if done.done():
                continue  # its caller went away; what was committed stays committed
            if outcome is None:
                done.set_result(None)
            else:
                done.set_exception(outcome)


def close() -> None:
    """Close the thread's connection (tests, before their database goes away)."""
    _thread.submit(lambda: connection.close()).result()  # the thread's own connection, looked up there


def reset() -> None:
    """Forget queued work (each test has its own event loop)."""
    global _committer
    if _committer is not None:
        _committer.cancel()
    _committer = None
    _queue.clear()
