"""What our code relies on in daphne, autobahn, Channels and Django beyond their public API.

Where we copy a library's function to change a line or two, its fingerprint here fails the
moment the pinned version's text changes: read the new upstream code, carry what changed
into our copy (or drop the copy), then update the fingerprint. Where we rely on a behaviour,
a test checks the behaviour itself. docs/benchmarks.md ("What we change in our libraries")
says what each change buys; tests/test_close_codes.py and tests/test_websocket_protocol.py
check the same changes from outside, on a real daphne and on daphne's own factories.
"""

import hashlib
import importlib
import inspect
import re
import textwrap

import pytest
from autobahn.websocket import protocol as autobahn_protocol
from daphne.cli import CommandLineInterface
from django.core import signals
from django.dispatch import Signal

from config.asgi import LeanHandler, loop_safe
from config.websocket_protocol import LeanServer

# Upstream code we keep a changed copy of, or override wholesale: where, and its fingerprint
# (the first 16 hex digits of the SHA-256 of its dedented source) in the locked version.
COPIED = {
    # config/websocket_protocol.py LeanServer.create_application: an Inbox for the asyncio.Queue.
    "daphne.server.Server.create_application": "6d6da219bd73c133",
    # config/websocket_protocol.py LeanWebSocketProtocol: the close's reason, the server-only codes.
    "daphne.ws_protocol.WebSocketProtocol.handle_reply": "f750e4ea30241e8f",
    "daphne.ws_protocol.WebSocketProtocol.serverClose": "343e598cb17d97cd",
    # config/asgi.py LeanHandler.__call__: the request cycle without thread hops.
    "django.core.handlers.asgi.ASGIHandler.handle": "ab2236e287c805bf",
    # games/web/consumers.py GameConsumer.__call__ (dispatch_in_turn), dispatch and
    # websocket_disconnect (no stale-connection check), send_json (through our send).
    "channels.consumer.AsyncConsumer.__call__": "3ece9d59f86a0968",
    "channels.consumer.AsyncConsumer.dispatch": "fb797181cb7cf340",
    "channels.generic.websocket.AsyncWebsocketConsumer.websocket_disconnect": "d3475e86825666a8",
    "channels.generic.websocket.AsyncJsonWebsocketConsumer.send_json": "7f26d9f19ab033d6",
    # games/layers/memory.py InMemoryLayer: replaces the stock layer's queues, keeps its groups and
    # the methods that use both (group_add, group_discard, flush, close, _remove_from_groups).
    "channels.layers.InMemoryChannelLayer": "aa69668efe7fe2dd",
}


def resolve(dotted: str):
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            target = getattr(target, name)
        return target
    raise ImportError(dotted)


def fingerprint(target) -> str:
    return hashlib.sha256(textwrap.dedent(inspect.getsource(target)).encode()).hexdigest()[:16]


@pytest.mark.parametrize("dotted", sorted(COPIED))
def test_the_upstream_code_we_copied_is_unchanged(dotted):
    assert fingerprint(resolve(dotted)) == COPIED[dotted], (
        f"{dotted} changed upstream: review our copy (see the comment above its entry), then update its fingerprint"
    )


def test_daphne_command_line_builds_its_server_from_server_class(monkeypatch):
    """``daphne config.asgi:application`` imports the application, which sets ``server_class``,
    then builds its server from it: the one change config/asgi.py makes at import."""
    served = []
    monkeypatch.setattr(LeanServer, "run", lambda server: served.append(server))
    CommandLineInterface().run(["-b", "127.0.0.1", "-p", "0", "config.asgi:application"])
    assert [type(server) for server in served] == [LeanServer]


def test_daphne_server_run_assigns_its_websocket_factory():
    """LeanServer's factory builds lean connections because ``Server.run`` assigns ``ws_factory``."""
    assert re.search(r"\bself\.ws_factory = WebSocketFactory\(", inspect.getsource(resolve("daphne.server.Server.run")))


def test_daphne_calls_listen_success_before_its_loop_runs_and_sends_no_lifespan():
    """LeanServer starts the sweeper from ``listen_success``, scheduled on the event loop: daphne
    calls it once each endpoint listens, in ``Server.run`` before the reactor runs, and sends no
    ASGI lifespan event that could carry the start instead."""
    run = inspect.getsource(resolve("daphne.server.Server.run"))
    assert run.index("listener.addCallback(self.listen_success)") < run.index("reactor.run(")
    assert "lifespan" not in inspect.getsource(importlib.import_module("daphne.server"))


def test_live_receivers_answers_sync_then_async():
    """config.asgi.loop_safe reads Django's private ``Signal._live_receivers``."""
    signal = Signal()

    def sync_receiver(sender, **kwargs):
        pass

    async def async_receiver(sender, **kwargs):
        pass

    signal.connect(sync_receiver)
    signal.connect(async_receiver)
    assert signal._live_receivers(sender=None) == ([sync_receiver], [async_receiver])


def test_only_djangos_own_loop_safe_receivers_hear_the_request_signals():
    """If Django connects a receiver of its own we do not know, the lean handler still works
    (it hops to a thread, as Django does) but loses what it was for: this says so."""
    assert loop_safe(signals.request_started, LeanHandler)
    assert loop_safe(signals.request_finished, LeanHandler)


def test_autobahn_pretty_prints_only_where_we_expect():
    """config.websocket_protocol.format_autobahn_debug_lazily replaces the module's ``pformat``:
    every use must be an argument of a debug message, or ``Timings.__str__`` (replaced too)."""
    source = inspect.getsource(autobahn_protocol)
    uses = [line.strip() for line in source.splitlines() if "pformat(" in line]
    assert uses == [
        "return pformat(self._timings)",
        'self.log.debug("\\n{attrs}", attrs=pformat(configAttrLog))',
        "transport_details=pformat(self._transport_details.marshal()),",
    ]
    assert "return pformat(self._timings)" in inspect.getsource(autobahn_protocol.Timings.__str__)
