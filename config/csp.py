"""The Content-Security-Policy of the pages: django-csp's middleware, plus this page's WebSocket origin.

``CONTENT_SECURITY_POLICY`` in the settings holds the policy. Its ``connect-src 'self'`` covers
a WebSocket to the page's own host only in browsers that follow CSP level 3 (which says
``'self'`` also matches ``ws:`` and ``wss:`` on the same host, as Chromium does); older ones
(older Safari among them) read it as the page's own scheme only. So each response also names
the one WebSocket origin its page connects to: ``wss://`` + host when the page came over
HTTPS, else ``ws://`` + host.
The host is Django's validated ``request.get_host()``, never a raw header.
"""

from csp.middleware import CSPMiddleware, PolicyParts
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase


def websocket_origin(request: HttpRequest) -> str | None:
    """``ws://host[:port]`` or ``wss://host[:port]``: the origin the game page's socket opens to."""
    try:
        host = request.get_host()
    except DisallowedHost:  # answered with a 400 already; no page, nothing to connect to
        return None
    return f"{'wss' if request.is_secure() else 'ws'}://{host}"


class PageCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, with the page's WebSocket origin added to ``connect-src``."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        origin = websocket_origin(request)
        if origin is not None and not report_only:
            update = dict(parts.update or {})
            update["connect-src"] = [*update.get("connect-src", ()), origin]
            parts.update = update
        return parts
