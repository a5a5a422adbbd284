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
import contextlib
import functools
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from django.db import InterfaceError, OperationalError, connection

from games import metrics
from games.storage import store

# What the thread runs next: (call, settle), where settle(outcome, failed) hands the outcome back.
_calls: queue.SimpleQueue[tuple[Callable[[], Any], Callable[[Any, bool], None]]] = queue.SimpleQueue()
_thread: threading.Thread | None = None
_starting = threading.Lock()
_queue: list[tuple[store.Append, asyncio.Future]] = []
_committer: asyncio.Task | None = None


def _tidy() -> None:
    """Keep the connection unless it broke (the next call then opens a fresh one)."""
    if connection.connection is None:
        return
    if connection.in_atomic_block or (connection.errors_occurred and not connection.is_usable()):
        connection.close()
    connection.errors_occurred = False


def _outcome(call: Callable[[], Any]) -> tuple[Any, bool]:
    """``call()`` and a tidy connection after it; what either raises goes to the caller, as from an executor."""
    try:
        try:
            return call(), False
        finally:
            _tidy()
    except BaseException as error:
        return error, True


def _serve() -> None:
    """The journal thread: each call in turn, with the lasting connection."""
    while True:
        call, settle = _calls.get()
        settle(*_outcome(call))
        del call, settle  # hold nothing of a call while waiting for the next


def _submit(call: Callable[[], Any], settle: Callable[[Any, bool], None]) -> None:
    """Queue a call, starting the thread on first use. A daemon: what is still queued when the
    process exits is dropped, and none of it was confirmed to anyone."""
    global _thread
    if _thread is None:
        with _starting:
            if _thread is None:
                _thread = threading.Thread(target=_serve, name="journal", daemon=True)
                _thread.start()
    _calls.put((call, settle))


def _settle(future: asyncio.Future, outcome: Any, failed: bool) -> None:
    """On the caller's loop: its answer, unless it stopped waiting."""
    if not future.done():
        if failed:
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


async def run(function: Callable, *args, **kwargs) -> Any:
    """``function(*args, **kwargs)`` on the journal thread, with its lasting connection.

    A queue and one wake-up of the loop per call, where ``run_in_executor`` also makes and
    chains a thread-safe future with a lock of its own (about three times the loop's work).
    """
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(outcome: Any, failed: bool) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (a test's, say): nobody is waiting
            loop.call_soon_threadsafe(_settle, future, outcome, failed)

    _submit(functools.partial(function, *args, **kwargs), settle)
    return await future


async def read(function: Callable, *args, **kwargs) -> Any:
    """``run`` for a call that only reads: if the lasting connection turned out to be dead (the
    database restarted, an operator ended it), the call is made once more on a fresh one, so a
    reader never pays for a connection that died while nobody used it. A read changes nothing,
    so running it twice is harmless."""
    try:
        return await run(function, *args, **kwargs)
    except (OperationalError, InterfaceError):
        return await run(function, *args, **kwargs)


async def append(append: store.Append) -> None:
    """Commit ``append`` (with whatever else is queued); raises StaleGame if its game moved on."""
    global _committer
    done = asyncio.get_running_loop().create_future()
    _queue.append((append, done))
    if _committer is None or _committer.done():
        _committer = asyncio.ensure_future(_commit_queued())
    await done


async def _commit_queued() -> None:
    """Commit whatever is queued, group after group, until nothing is; each group is measured once."""
    while _queue:
        group = _queue[:]
        _queue.clear()
        metrics.QUEUE_DEPTH.set(len(group) + _calls.qsize())
        metrics.BATCH_SIZE.observe(len(group))
        started = time.perf_counter()
        try:
            outcomes = await run(store.append_many, [append for append, _ in group])
        except Exception as error:  # the database is unreachable: every waiting append hears why
            outcomes = [error] * len(group)
        metrics.COMMIT_SECONDS.observe(time.perf_counter() - started)
        for (_, done), outcome in zip(group, outcomes, strict=True):
            if done.done():
                continue  # its caller went away; what was committed stays committed
            if outcome is None:
                done.set_result(None)
            else:
                done.set_exception(outcome)


def close() -> None:
    """Close the thread's connection (tests, before their database goes away)."""
    done = Future()
    _submit(lambda: connection.close(), lambda outcome, failed: done.set_result(None))  # looked up on the thread
    done.result()


def reset() -> None:
    """Forget queued work (each test has its own event loop)."""
    global _committer
    if _committer is not None:
        _committer.cancel()
    _committer = None
    _queue.clear()
