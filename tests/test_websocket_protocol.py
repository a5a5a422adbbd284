"""config.websocket_protocol: daphne's connections, minus what they need not keep.

Driven in-process through daphne's own HTTP factory (the path a real upgrade takes),
on an in-memory Twisted transport, with a tiny ASGI app that accepts and echoes.
"""

import asyncio
import base64
import os
import pprint
import struct

import pytest
from autobahn.websocket.protocol import Timings
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.web.http import HTTPChannel

import config.asgi  # noqa: F401 - what daphne imports before it builds its server
from config import websocket_protocol
from config.websocket_protocol import LeanServer, LeanWebSocketProtocol, PrettyWhenLogged
from games.layers.memory import Inbox


async def echo(scope, receive, send):
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message["text"].upper()})
        else:
            return


def daphne_server(ping_timeout: int = 17) -> Server:
    """The server daphne's command line builds, set up as ``Server.run`` sets it up, without
    listening or running a reactor."""
    server = CommandLineInterface.server_class(
        application=echo, endpoints=["tcp:port=0"], ping_timeout=ping_timeout, websocket_handshake_timeout=4
    )
    server.connections = {}
    server.ws_factory = WebSocketFactory(server, server="daphne")
    server.ws_factory.setProtocolOptions(
        autoPingTimeout=server.ping_timeout,
        allowNullOrigin=True,
        openHandshakeTimeout=server.websocket_handshake_timeout,
        maxMessagePayloadSize=server.websocket_max_message_size,
        maxFramePayloadSize=server.websocket_max_frame_size,
    )
    server.http_factory = HTTPFactory(server)
    return server


def masked_text_frame(text: str) -> bytes:
    payload, mask = text.encode(), os.urandom(4)
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def upgraded_socket(ping_timeout: int = 17):
    """A socket upgraded from HTTP and accepted by the app: (server, protocol, transport)."""
    server = daphne_server(ping_timeout)
    peer = IPv4Address("TCP", "127.0.0.1", 40000)
    transport = StringTransport(peerAddress=peer, hostAddress=IPv4Address("TCP", "127.0.0.1", 8000))
    http = server.http_factory.buildProtocol(peer)
    http.makeConnection(transport)
    key = base64.b64encode(os.urandom(16))
    http.dataReceived(
        b"GET /ws/games/ABC/ HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nOrigin: http://127.0.0.1:8000\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\n\r\n"
    )
    protocol = next(p for p in server.connections if isinstance(p, WebSocketProtocol))
    for _ in range(100):  # the app runs on the event loop; the accept comes back through daphne
        if protocol.state == protocol.STATE_OPEN:
            break
        await asyncio.sleep(0.01)
    assert b"101 Switching Protocols" in transport.value()
    transport.clear()
    return server, protocol, transport


def test_daphne_builds_the_lean_server_and_its_factory_the_lean_protocol():
    assert CommandLineInterface.server_class is LeanServer
    assert isinstance(daphne_server().ws_factory.buildProtocol(None), LeanWebSocketProtocol)
    assert WebSocketFactory.protocol is WebSocketProtocol  # daphne's own class is left as it was


async def test_a_socket_receives_through_a_light_inbox():
    """What daphne hands the application arrives in order through an Inbox, not an asyncio.Queue."""
    server, protocol, transport = await upgraded_socket()
    assert type(protocol.application_queue) is Inbox
    for word in ("one", "two", "three"):
        protocol.dataReceived(masked_text_frame(word))
    for _ in range(100):
        if transport.value().count(b"\x81") == 3:
            break
        await asyncio.sleep(0.01)
    assert transport.value() == b"\x81\x03ONE\x81\x03TWO\x81\x05THREE"


async def test_options_are_the_factorys_and_no_connection_keeps_a_copy():
    server, protocol, transport = await upgraded_socket()
    factory = server.ws_factory
    for name in WebSocketProtocol.CONFIG_ATTRS:
        assert name not in vars(protocol), name
        assert getattr(protocol, name) == getattr(factory, name), name
    assert (protocol.autoPingTimeout, protocol.openHandshakeTimeout, protocol.allowNullOrigin) == (17, 4, True)
    protocol.closeHandshakeTimeout = 9  # a connection may still set its own
    assert (protocol.closeHandshakeTimeout, factory.closeHandshakeTimeout) == (9, 1)


async def test_the_http_request_it_was_upgraded_from_is_let_go():
    server, protocol, transport = await upgraded_socket()
    assert transport.producer is None  # was the HTTPChannel, which held the request and its headers
    assert protocol.http_request_data is None and protocol.http_response_data is None
    assert not any(isinstance(p, HTTPChannel) for p in (transport.producer, transport.protocol))


async def test_an_upgraded_socket_still_talks():
    server, protocol, transport = await upgraded_socket()
    protocol.dataReceived(masked_text_frame("hello"))
    for _ in range(100):
        if transport.value():
            break
        await asyncio.sleep(0.01)
    assert transport.value() == b"\x81\x05HELLO"


class Unprintable(int):
    """An option value that fails the test if anything pretty-prints it."""

    def __repr__(self):
        raise AssertionError("pretty-printed for a debug log that is off")


async def test_a_connection_pretty_prints_nothing_for_a_debug_log_that_is_off():
    websocket_protocol.format_autobahn_debug_lazily()  # a serving LeanServer does this when it runs
    server, protocol, transport = await upgraded_socket(ping_timeout=Unprintable(17))
    assert protocol.state == protocol.STATE_OPEN and protocol.autoPingTimeout == 17


def test_what_a_debug_log_would_show_is_still_there_when_formatted():
    options = [("autoPingTimeout", 17, "WebSocketServerFactory")]
    assert f"{PrettyWhenLogged(options)}" == str(PrettyWhenLogged(options)) == pprint.pformat(options)
    websocket_protocol.format_autobahn_debug_lazily()
    timings = Timings()
    timings.track("open")
    assert isinstance(str(timings), str) and "open" in str(timings)


async def test_no_attribute_keeps_the_handshake_once_open():
    """Fails if autobahn keeps the upgrade request under a name we do not let go of."""
    server, protocol, transport = await upgraded_socket()
    kept = {name for name, value in vars(protocol).items() if isinstance(value, bytes) and b"Sec-WebSocket" in value}
    assert kept == set()


@pytest.mark.parametrize(
    ("code", "reason"),
    [(1012, "service restart"), (1001, "server going away"), (4404, "unknown game"), (1000, None), (1011, None)],
)
async def test_the_close_the_application_asks_for_goes_on_the_wire(code, reason):
    """Code and reason as the ASGI message gives them, the codes only a server sends included."""
    server, protocol, transport = await upgraded_socket()
    protocol.handle_reply({"type": "websocket.close", "code": code, "reason": reason})
    payload = struct.pack("!H", code) + (reason or "").encode()
    assert transport.value() == bytes([0x88, len(payload)]) + payload


async def test_a_long_close_reason_is_cut_to_fit_without_splitting_a_character():
    server, protocol, transport = await upgraded_socket()
    protocol.handle_reply({"type": "websocket.close", "code": 1012, "reason": "é" * 100})
    frame = transport.value()
    assert frame[1] == 2 + 122 and frame[4:].decode() == "é" * 61


async def test_a_close_code_no_endpoint_may_send_is_refused():
    server, protocol, transport = await upgraded_socket()
    with pytest.raises(Exception, match="invalid close code"):
        protocol.handle_reply({"type": "websocket.close", "code": 1006})
    assert transport.value() == b"" and protocol.state == protocol.STATE_OPEN
