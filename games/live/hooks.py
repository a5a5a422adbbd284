"""A hook: a named list of listeners a module tells of something, so that the listeners depend on
it and it never depends on them (the registry's hooks in games/live/registry.py are wired in
games/apps.py)."""

from __future__ import annotations

import inspect
from collections.abc import Callable


class Hook:
    """Listeners told of something, in the order they subscribed; a listener may be a coroutine
    function (awaited in turn)."""

    def __init__(self, what: str):
        self.what = what
        self.listeners: list[Callable] = []

    def subscribe(self, listener: Callable) -> Callable:
        if listener not in self.listeners:
            self.listeners.append(listener)
        return listener

    async def fire(self, *args) -> None:
        for listener in self.listeners:
            outcome = listener(*args)
            if inspect.isawaitable(outcome):
                await outcome

    def tell(self, *args) -> None:
        """For listeners that return nothing to await (the hooks fired where nothing is awaited)."""
        for listener in self.listeners:
            listener(*args)
