"""Daphne, served lean: what its server and WebSocket connections keep, format and send.

``daphne config.asgi:application`` builds its server from ``CommandLineInterface.server_class``
after importing the application; config/asgi.py sets that to :class:`LeanServer`, the one
change made to daphne at import time. Everything else happens when a LeanServer runs, so
importing the application (tests, ``manage.py``) changes nothing in daphne, autobahn or
the interpreter. Each difference from the libraries' own behaviour, and what it buys, is in
docs/benchmarks.md ("What we change in our libraries"); tests/test_upstream_contracts.py
fails when an upstream behaviour one of them relies on changes.

A LeanServer differs from daphne's in that:

1. Its connections (HTTP and WebSocket) pass messages to their application through a
   :class:`games.layers.memory.Inbox` instead of an ``asyncio.Queue`` each: 3 KB less per socket.
2. Its WebSocket factory builds :class:`LeanWebSocketProtocol` connections, which
   - deliver the close code and reason the application asks for. Daphne passes the code
     alone to autobahn's ``sendClose``, which refuses every code but 1000 and 3000-4999
     (daphne then logs the error and the socket stays open), and drops the reason. Codes a
     server may send under RFC 6455 and the IANA registry (1001 going away, 1011, 1012
     service restart, 1013 try again later...) go out as close frames of their own;
   - read autobahn's ~30 protocol options from the factory instead of each copying them
     as it starts (a connection's ``__dict__`` stays small: 1.6 KB instead of 3.3 KB);
   - let go, once open, of the HTTP channel and request they were upgraded from (headers,
     buffers, addresses: about 3.5 KB), which daphne leaves registered as the TCP
     transport's producer though an upgraded request never finishes, and of the raw
     handshake bytes autobahn keeps only for its logs.
3. Running it tunes the process for serving (:func:`tune_for_serving`) and installs the
   SIGTERM goodbye (games/live/shutdown.py).
4. Once it listens, the process's timed work begins (games/live/sweeper.py), not at its first
   socket: daphne sends no ASGI lifespan events, so its "listening" callback is the seam.
"""

from __future__ import annotations

import asyncio
import gc
import pprint
import sys
from functools import partial

from autobahn.websocket import protocol as autobahn_protocol
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol

from games.layers.memory import Inbox
from games.live import shutdown

# Close codes a server may send besides 1000 and 3000-4999 (which autobahn's sendClose takes):
# RFC 6455 section 7.4.1 and the IANA registry. 1005, 1006 and 1015 never go on the wire.
SERVER_CLOSE_CODES = frozenset({1001, 1002, 1003, 1007, 1008, 1009, 1011, 1012, 1013, 1014})
# A close frame's payload is at most 125 bytes: the code takes two.
MAX_REASON_BYTES = 123


def close_reason_bytes(reason: str | None) -> bytes | None:
    """A close reason as UTF-8, cut to fit a close frame without splitting a character."""
    if not reason:
        return None
    return reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore").encode()


class PrettyWhenLogged:
    """``pprint.pformat(value)``, worked out only when a log message holding it is formatted."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __format__(self, spec: str) -> str:
        return format(pprint.pformat(self.value), spec)

    def __str__(self) -> str:
        return pprint.pformat(self.value)


def _timings_text(timings) -> str:
    """autobahn's ``Timings.__str__``, which must still return text."""
    return pprint.pformat(timings._timings)


class FactoryOption:
    """A protocol option read from the connection's factory, unless the connection set its own.

    A non-data descriptor: ``hasattr`` finds it (so autobahn copies nothing), and an
    assignment on the connection lands in its ``__dict__`` and wins from then on.
    """

    def __init__(self, name: str):
        self.name = name

    def __get__(self, protocol, owner=None):
        if protocol is None:
            return self
        return getattr(protocol.factory, self.name)


class LeanWebSocketProtocol(WebSocketProtocol):
    """Daphne's WebSocket protocol: the close the application asks for, options read from the
    factory, and the HTTP upgrade let go once open."""

    def onOpen(self):
        super().onOpen()
        self.transport.unregisterProducer()  # the HTTP channel the socket was upgraded from
        self.http_request_data = self.http_response_data = None

    def handle_reply(self, message):
        """Daphne's, except that ``websocket.close`` on an open socket keeps its reason (ASGI 2.3)."""
        if message.get("type") == "websocket.close" and self.state != self.STATE_CONNECTING:
            self.serverClose(code=message.get("code"), reason=message.get("reason"))
        else:
            super().handle_reply(message)

    def serverClose(self, code=None, reason=None):
        """Close with ``code`` (1000 if none) and ``reason``, including the codes only a server sends."""
        code = 1000 if code is None else code
        if code in SERVER_CLOSE_CODES:
            self.sendCloseFrame(code=code, reasonUtf8=close_reason_bytes(reason))
        else:
            self.sendClose(code=code, reason=reason or None)  # validates the rest


for _name in WebSocketProtocol.CONFIG_ATTRS:
    setattr(LeanWebSocketProtocol, _name, FactoryOption(_name))


def format_autobahn_debug_lazily() -> None:
    """Autobahn pretty-prints its ~30 options for a debug message on every new connection, logged
    or not; from here on the text is made only if the message is (:class:`PrettyWhenLogged`).
    The module's only other uses of ``pformat`` are another debug message and ``Timings.__str__``,
    which must return text (tests/test_upstream_contracts.py checks that list)."""
    autobahn_protocol.pformat = PrettyWhenLogged
    autobahn_protocol.Timings.__str__ = _timings_text


def tune_for_serving() -> None:
    """What a serving process changes in the interpreter and in autobahn (docs/benchmarks.md has the figures).

    - A 1 ms GIL switch interval: every move waits for its commit on the journal thread, and
      with the default 5 ms a commit done in a tenth of a millisecond can wait that long for the
      GIL while the event loop runs.
    - Autobahn's debug messages format their pretty-printed parts only if logged.
    - Everything made while starting (Django, Twisted, the application) lives as long as the
      process: frozen, it is left out of every later full garbage collection.
    """
    sys.setswitchinterval(0.001)
    format_autobahn_debug_lazily()
    gc.freeze()


class LeanServer(Server):
    """Daphne's server: a light inbox per connection, lean WebSocket connections, tuned when run."""

    @property
    def ws_factory(self):
        return self.__dict__.get("ws_factory")

    @ws_factory.setter
    def ws_factory(self, factory):
        """``Server.run`` makes the factory; this server's builds lean connections (daphne's class is untouched)."""
        factory.protocol = LeanWebSocketProtocol
        self.__dict__["ws_factory"] = factory

    def run(self):
        shutdown.install()  # before daphne's own trigger, which cancels every application
        tune_for_serving()
        super().run()

    def listen_success(self, port):
        """Daphne's (it logs the address), then, on the event loop's first turn, the sweeper: timers
        run, outages are given back and stalled computer turns are taken from the moment this
        process can serve, though nobody connects. Daphne calls this once each endpoint is bound,
        before its reactor runs the loop; a second endpoint's call changes nothing."""
        super().listen_success(port)
        from twisted.internet import reactor

        from games.live import sweeper  # imports the models: only once Django is set up

        reactor.callLater(0, sweeper.start_serving)

    def create_application(self, protocol, scope):
        """Daphne's own, with an :class:`Inbox` where it makes an ``asyncio.Queue`` (the protocols
        only ``put_nowait`` into it, and the application only awaits ``get``)."""
        assert "application_instance" not in self.connections[protocol]
        inbox = Inbox()
        scope.setdefault("asgi", {"version": "3.0"})
        instance = self.application(scope=scope, receive=inbox.get, send=partial(self.handle_reply, protocol))
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(instance)
        return inbox
