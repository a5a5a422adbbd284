"""Middleware of our own: Django's, minus the thread hops ASGI adds to it."""

from asgiref.sync import markcoroutinefunction
from django.middleware.security import SecurityMiddleware


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
