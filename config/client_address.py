"""The client's address, as the login limits (django-axes, ``AXES_CLIENT_IP_CALLABLE``) count it.

A placeholder: it trusts ``REMOTE_ADDR`` as it is, which behind nginx is nginx's own address,
so every client of a proxied deployment shares one address here. The proxy-aware version (the
address nginx says it received the request from, trusted only from configured proxies)
replaces this function; its name and signature are all that other code relies on.
"""

from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from (``REMOTE_ADDR``); None for a login made in code
    rather than over HTTP (a test's ``force_login``), whose request has no address."""
    return request.META.get("REMOTE_ADDR")
