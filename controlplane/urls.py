"""Root URLs: admin console, REST API v1 (incl. the prediction gateway) and health probes."""

from django.contrib import admin
from django.urls import include, path

from controlplane import health

handler404 = "controlplane.api.errors.not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/v1/", include("controlplane.api.urls")),
    path("api/v1/", include("controlplane.gateway.urls")),
]
