"""Root URLs: the console, the Django admin, REST API v1 (incl. the prediction gateway), health and Prometheus."""

from django.contrib import admin
from django.urls import include, path

from controlplane import health, prometheus

handler404 = "controlplane.api.errors.not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", prometheus.metrics, name="metrics"),
    path("api/v1/", include("controlplane.api.urls")),
    path("api/v1/", include("controlplane.gateway.urls")),
    # The console (*extension (console)*): `/`, login/logout and the console pages.
    path("", include("frontend.urls")),
]
