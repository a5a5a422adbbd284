"""ASGI entry point: HTTP goes to Django, WebSockets to the game consumers.

Served by ``daphne config.asgi:application``.
"""

import gc
import os
import sys

from django.conf import settings
from django.core import signals
from django.core.asgi import get_asgi_application
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.urls import set_script_prefix

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()


from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config import websocket_protocol  # noqa: E402
from games import shutdown  # noqa: E402
from games.routing import websocket_urlpatterns  # noqa: E402


class LeanHandler(ASGIHandler):
    """The same Django (URLs, views) with only ``LEAN_MIDDLEWARE``, and no hop to a worker thread.

    The stock handler gives each request a thread of its own for its synchronous parts, hands
    the request signals' receivers and the closing of the response to that thread (a hop
    each), and starts a task that listens for the client going away while the view runs.
    The views under ``LEAN_PATHS`` answer at once and reach the database only through the
    journal or ``database_sync_to_async``, which look after their own connections; so here the
    signals are sent and the response closed on the event loop, where the receivers (Django's
    stale-connection check) find nothing to do, and a client that leaves early is noticed
    when its answer is sent.
    """

    def __init__(self):
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.LEAN_MIDDLEWARE  # a handler reads the list once, when built
        try:
            super().__init__()
        finally:
            settings.MIDDLEWARE = full

    async def __call__(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        response = None
        try:
            request, response = self.create_request(scope, body_file)
            if request is not None:
                response = await self.run_get_response(request)
            await self.send_response(response, send)
        finally:
            body_file.close()
            if response is not None:
                response.close()  # sends request_finished


class LeanPaths:
    """HTTP to ``LEAN_PATHS`` (the JSON API, the probes) goes to the lean handler, the rest to the full one."""

    def __init__(self, lean, full):
        self.lean, self.full = lean, full

    async def __call__(self, scope, receive, send):
        app = self.lean if scope["path"].startswith(settings.LEAN_PATHS) else self.full
        return await app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": LeanPaths(LeanHandler(), django_asgi_app),
        "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)

# Daphne's server and WebSocket connections without the per-connection copies and queues they need not keep.
websocket_protocol.install()

# A deploy's SIGTERM closes game sockets with 1001 so clients reconnect at once.
shutdown.install()

# Every move waits for its commit on the journal thread, and the commit's answer waits for
# the GIL: with Python's default switch interval (5 ms) a commit done in a tenth of a
# millisecond can wait up to 5 ms while the event loop runs. At 1 ms, bench S1 did about 4%
# more moves a second (the thread's SQLite work overlaps more with the loop's).
sys.setswitchinterval(0.001)

# Everything made while starting (Django, Twisted, the application) lives as long as the
# process. Frozen, it is left out of every later collection, so the collector's full passes
# look only at what was made since: about 7% more moves a second in bench S1.
gc.freeze()
