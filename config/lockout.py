"""What an operator sees when the admin login is locked (django-axes, ``AXES_LOCKOUT_CALLABLE``)."""

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The admin's login page with a message instead of the form, status 429."""
    minutes = f"{settings.AXES_COOLOFF_TIME.total_seconds() / 60:g}"  # 15, or 0.5
    context = {
        **admin.site.each_context(request),
        "title": "Login locked",
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": minutes,
    }
    return render(request, "admin/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)
