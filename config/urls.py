from django.contrib import admin
from django.urls import include, path

from games.admin import metrics_dashboard, metrics_numbers

urlpatterns = [
    path("admin/metrics/", admin.site.admin_view(metrics_dashboard), name="admin-metrics"),
    path("admin/metrics/numbers", admin.site.admin_view(metrics_numbers), name="admin-metrics-numbers"),
    path("admin/", admin.site.urls),
    path("", include("games.urls")),
]
