"""ASGI entry point: HTTP goes to Django, WebSockets to the game consumers.

Served by ``daphne config.asgi:application``. Importing this module changes one thing
outside it: daphne's command line builds a :class:`config.websocket_protocol.LeanServer`
(daphne imports the application before it builds its server).
"""

import os

from asgiref.sync import sync_to_async
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
from daphne.cli import CommandLineInterface  # noqa: E402
from django.core.cache import close_caches  # noqa: E402
from django.core.handlers.base import reset_urlconf  # noqa: E402
from django.db import close_old_connections, reset_queries  # noqa: E402

from config.websocket_protocol import LeanServer  # noqa: E402
from games.routing import websocket_urlpatterns  # noqa: E402

# Django's own receivers of the request signals. On the event loop they find nothing to do:
# it holds no database connection, query log, cache connection or URLconf of a request's thread.
LOOP_SAFE_RECEIVERS = frozenset({reset_queries, close_old_connections, close_caches, reset_urlconf})


def loop_safe(signal, sender) -> bool:
    """Whether every receiver of ``signal`` is one of Django's own that may run on the event loop.

    ``Signal._live_receivers`` is private: Django 5.2's answer is (sync receivers, async
    receivers), which tests/test_upstream_contracts.py checks against the pinned version.
    """
    sync_receivers, async_receivers = signal._live_receivers(sender)
    return not async_receivers and LOOP_SAFE_RECEIVERS.issuperset(sync_receivers)


class LeanHandler(ASGIHandler):
    """The same Django (URLs, views) with only ``LEAN_MIDDLEWARE``, and no hop to a worker thread.

    Django's ``ASGIHandler.handle`` gives each request a thread of its own for its synchronous
    parts, hands the request signals' receivers and the closing of the response to that
    thread (a hop each), and starts a task that listens for the client going away while the
    view runs. The views under ``LEAN_PATHS`` answer at once and reach the database only
    through the journal or ``database_sync_to_async``, which look after their own connections.
    So here, while only Django's own receivers listen (:func:`loop_safe`), the signals are sent
    and the response closed on the event loop; any other receiver, sync or async, is run as
    Django's handler runs it. A client that leaves early is noticed when its answer is sent.
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
        if loop_safe(signals.request_started, self.__class__):
            signals.request_started.send(sender=self.__class__, scope=scope)
        else:
            await signals.request_started.asend(sender=self.__class__, scope=scope)
        response = None
        try:
            request, response = self.create_request(scope, body_file)
            if request is not None:
                response = await self.run_get_response(request)
            await self.send_response(response, send)
        finally:
            body_file.close()
            if response is not None:  # closing it sends request_finished
                if loop_safe(signals.request_finished, self.__class__):
                    response.close()
                else:
                    await sync_to_async(response.close)()


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

# ``daphne config.asgi:application`` serves with the lean server (config/websocket_protocol.py).
CommandLineInterface.server_class = LeanServer
