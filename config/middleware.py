"""Middleware of our own: Django's, minus the thread hops ASGI adds to it."""

from django.middleware.security import SecurityMiddleware


class AsyncSecurityMiddleware(SecurityMiddleware):
    """Django's SecurityMiddleware (HTTPS redirect, HSTS, nosniff...), run on the event loop.

    Django hands each hook of a synchronous middleware to a worker thread under ASGI;
    these hooks only read the request and settings and set headers, so the hop (and the
    thread Django starts for it, one per request) would cost more than the work.
    """

    sync_capable = False
    async_capable = True

    async def __acall__(self, request):
        response = self.process_request(request) or await self.get_response(request)
        return self.process_response(request, response)
