from django.contrib import admin
from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from games.admin import metrics_dashboard, metrics_numbers


@require_safe
def favicon(request):
    """/favicon.ico, which browsers and tools ask for unprompted: the site's icon, whose static
    name is hashed (so this answer is only cached for a day; the file itself for good)."""
    response = HttpResponseRedirect(static("favicon.svg"))
    patch_cache_control(response, public=True, max_age=86400)
    return response


urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("admin/metrics/", admin.site.admin_view(metrics_dashboard), name="admin-metrics"),
    path("admin/metrics/numbers", admin.site.admin_view(metrics_numbers), name="admin-metrics-numbers"),
    path("admin/", admin.site.urls),
    path("", include("games.urls")),
]
