"""Every v1 REST route. Plain CRUD goes on the router; operations with rules get their own path."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from controlplane.api import schema  # noqa: F401  (registers the OpenAPI auth schemes)
from controlplane.decisions.apis import DecisionApi
from controlplane.registry.apis import ArtifactDownloadApi
from controlplane.routing.apis import ConfigApi, DeploymentsApi

router = SimpleRouter(trailing_slash=False)

service_prefix = "tenants/<slug:tenant>/services/<slug:service>"

urlpatterns = [
    path(
        "schema", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"
    ),
    path(
        "docs",
        SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[], permission_classes=[]),
        name="docs",
    ),
    path(f"{service_prefix}/deployments", DeploymentsApi.as_view(), name="service-deployments"),
    path(f"{service_prefix}/config", ConfigApi.as_view(), name="service-config"),
    path(f"{service_prefix}/requests/<str:request_id>", DecisionApi.as_view(), name="service-decision"),
    path("internal/artifacts/<str:sha256>", ArtifactDownloadApi.as_view(), name="internal-artifact"),
    *router.urls,
]
