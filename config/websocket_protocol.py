"""Daphne's connections, minus what they keep, and format, for no use.

``install()`` (called from config/asgi.py, which daphne imports before it builds its
server and factories) makes daphne's WebSocket factory build :class:`LeanWebSocketProtocol`:
the same protocol, with two differences that only change what an open socket holds.

1. Autobahn copies its ~30 protocol options (timeouts, size limits, origin
   patterns...) from the factory onto every connection as it starts
   (``WebSocketProtocol._connectionMade``), unless the connection has them already.
   Here the class has them: each reads the factory's value, which is what the copy
   would hold (nothing changes a factory's options after daphne sets them). A
   connection may still set its own, which then shadows the factory's. Without the
   copies a connection's ``__dict__`` stays under 86 keys: 1.6 KB instead of 3.3 KB.
2. A socket begins as an HTTP request on Twisted's HTTP channel, which registers
   itself as the TCP transport's producer. Daphne hands the transport over to the
   WebSocket protocol but leaves that registration, so the channel and the request
   (headers, buffers, addresses) live as long as the socket, though they do nothing
   for it: an upgraded request never finishes, so the channel's pause and resume
   are no-ops. Once the socket is open the registration is dropped (autobahn drops
   it anyway when it drops a connection), and so are the raw handshake bytes
   autobahn keeps only for its logs.

About 6 KB less per open socket in all (bench S3: 2 KB for 1., 3.5 KB for 2.).

It also makes daphne's command line build a :class:`LeanServer`, whose connections (HTTP
and WebSocket) pass messages to their application through a :class:`games.layers.Inbox`
instead of an ``asyncio.Queue`` each: 3 KB less per open socket.

It also stops autobahn from pretty-printing those options for a debug message on every
new connection whether or not debug logging is on (about 7% of a game start's CPU under
load): the text is made only if the message is (:class:`PrettyWhenLogged`).
"""

import asyncio
import pprint
from functools import partial

from autobahn.websocket import protocol as autobahn_protocol
from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol

from games.layers import Inbox


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
    """Daphne's WebSocket protocol: options read from the factory, the HTTP upgrade let go once open."""

    def onOpen(self):
        super().onOpen()
        self.transport.unregisterProducer()  # the HTTP channel the socket was upgraded from
        self.http_request_data = self.http_response_data = None


for _name in WebSocketProtocol.CONFIG_ATTRS:
    setattr(LeanWebSocketProtocol, _name, FactoryOption(_name))


class LeanServer(Server):
    """Daphne's server, with a light inbox per connection for what its application receives."""

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


def install() -> None:
    """Make daphne's command line build a :class:`LeanServer`, its WebSocket factory build
    :class:`LeanWebSocketProtocol` connections, and autobahn's per-connection debug messages
    format their pretty-printed parts only if logged."""
    CommandLineInterface.server_class = LeanServer
    WebSocketFactory.protocol = LeanWebSocketProtocol
    autobahn_protocol.pformat = PrettyWhenLogged  # the module's only other use is Timings.__str__:
    autobahn_protocol.Timings.__str__ = _timings_text
