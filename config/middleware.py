"""Middleware of our own: Django's, minus the thread hops ASGI adds to it, and the API's JSON errors."""

import logging

from asgiref.sync import markcoroutinefunction
from django.http import JsonResponse
from django.middleware.security import SecurityMiddleware

log = logging.getLogger(__name__)


class AsyncSecurityMiddleware:
    """Django's SecurityMiddleware (HTTPS redirect, HSTS, nosniff...), run on the event loop.

    Django hands each hook of a synchronous middleware to a worker thread under ASGI; these
    hooks only read the request and settings and set headers, so the hop (and the thread
    Django starts for it, one per request) would cost more than the work. An async-only
    middleware in Django's documented form, calling the same hooks.
    """

    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.security = SecurityMiddleware(get_response)
        markcoroutinefunction(self)

    async def __call__(self, request):
        response = self.security.process_request(request) or await self.get_response(request)
        return self.security.process_response(request, response)


class JsonApiErrors:
    """Every answer under ``/api/`` is JSON with a code from docs/protocol.md, failures included.

    A bot reads ``code``; an HTML error page (Django's 404 for an unknown path, its 405 with no
    body, its 500) would leave it guessing. A shared service that fails mid-request (the database,
    Redis) is ``503 unavailable`` with ``Retry-After``: the client may send the same call again.
    Anything else unexpected is ``500 internal``. Other paths are left as they are.
    """

    sync_capable = False
    async_capable = True

    CODES = {
        400: ("bad_request", "The request could not be read."),
        403: ("forbidden", "The request was refused."),
        404: ("not_found", "There is nothing at this address."),
        405: ("method_not_allowed", "This address does not take that method."),
        413: ("too_large", "The request body is too large."),
        500: ("internal", "The server failed to answer; nothing is known to have changed. Try again."),
        503: ("unavailable", "The server cannot reach a service it needs; try again in a moment."),
    }
    RETRY_AFTER_SECONDS = 1

    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request):
        response = await self.get_response(request)
        if not request.path.startswith("/api/") or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        return self.json_error(response.status_code, keep=response)

    def process_exception(self, request, exception):
        """A database or channel-layer failure during an API call: 503, so the client retries."""
        if request.path.startswith("/api/") and isinstance(exception, service_errors()):
            log.warning("API %s %s: a service failed: %r", request.method, request.path, exception)
            return self.json_error(503)
        return None

    def json_error(self, status: int, keep=None) -> JsonResponse:
        code, message = self.CODES.get(status, ("internal" if status >= 500 else "bad_request", ""))
        answer = JsonResponse({"code": code, "message": message or self.CODES[500][1]}, status=status)
        if keep is not None and keep.has_header("Allow"):
            answer["Allow"] = keep["Allow"]
        if status == 503:
            answer["Retry-After"] = str(self.RETRY_AFTER_SECONDS)
        return answer


def service_errors() -> tuple[type[BaseException], ...]:
    """What a failing database or channel layer raises (read late: the games app loads after settings)."""
    from games.storage.store import DATABASE_ERRORS
    from games.web.sockets import LAYER_ERRORS

    return (*DATABASE_ERRORS, *LAYER_ERRORS, TimeoutError)
