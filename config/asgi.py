"""ASGI entry point: HTTP goes to Django, WebSockets to the game consumers.

Served by ``daphne config.asgi:application``.
"""

import gc
import os
import sys

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()


from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config import websocket_protocol  # noqa: E402
from games import shutdown  # noqa: E402
from games.routing import websocket_urlpatterns  # noqa: E402


class LeanHandler(ASGIHandler):
    """The same Django (URLs, views) with only ``LEAN_MIDDLEWARE``, and no thread of its own per request.

    The stock handler starts a thread for each request's synchronous parts and joins it
    at the end; here those parts are only Django's request signals and closing the
    response, so they take turns on asgiref's one shared thread instead.
    """

    def __init__(self):
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.LEAN_MIDDLEWARE  # a handler reads the list once, when built
        try:
            super().__init__()
        finally:
            settings.MIDDLEWARE = full

    async def __call__(self, scope, receive, send):
        await self.handle(scope, receive, send)


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

# Daphne's WebSocket connections without the per-connection copies they need not keep.
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
