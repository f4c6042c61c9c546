"""Every v1 REST route. Plain CRUD goes on the router; operations with rules get their own path."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from controlplane.alerts.apis import AlertRulesApi, AlertsApi
from controlplane.api import schema  # noqa: F401  (registers the OpenAPI auth schemes)
from controlplane.audit.apis import AuditApi
from controlplane.decisions.apis import DecisionApi
from controlplane.drift.apis import DriftApi
from controlplane.feedback.apis import FeedbackApi, QualityApi
from controlplane.fleet.apis import ReadinessApi
from controlplane.monitoring.apis import MetricsApi
from controlplane.registry.apis import ArtifactDownloadApi, ArtifactGrantApi
from controlplane.registry.model_apis import ModelViewSet, VersionViewSet
from controlplane.rollouts.apis import RolloutAbortApi, RolloutApi, RolloutPauseApi, RolloutResumeApi, RolloutsApi
from controlplane.routing.apis import ConfigApi, DeploymentsApi, PromoteApi, RevisionsApi, RollbackApi
from controlplane.routing.service_apis import ServiceViewSet
from controlplane.tenancy.apis import KafkaCredentialsApi, TenantApi, TokenViewSet

tenant_prefix = "tenants/<slug:tenant>"
service_prefix = f"{tenant_prefix}/services/<slug:service>"

router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register(f"{tenant_prefix}/tokens", TokenViewSet, basename="token")
router.register(f"{tenant_prefix}/services", ServiceViewSet, basename="service")
router.register(f"{tenant_prefix}/models", ModelViewSet, basename="model")
router.register(f"{tenant_prefix}/models/<slug:model>/versions", VersionViewSet, basename="model-version")

urlpatterns = [
    path("schema", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    path(
        "docs",
        SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[], permission_classes=[]),
        name="docs",
    ),
    path(tenant_prefix, TenantApi.as_view(), name="tenant"),
    path(f"{tenant_prefix}/audit", AuditApi.as_view(), name="tenant-audit"),
    path(f"{tenant_prefix}/kafka-credentials", KafkaCredentialsApi.as_view(), name="tenant-kafka-credentials"),
    path(f"{service_prefix}/deployments", DeploymentsApi.as_view(), name="service-deployments"),
    path(f"{service_prefix}/promote", PromoteApi.as_view(), name="service-promote"),
    path(f"{service_prefix}/rollback", RollbackApi.as_view(), name="service-rollback"),
    path(f"{service_prefix}/rollouts", RolloutsApi.as_view(), name="service-rollouts"),
    path(f"{service_prefix}/rollouts/<int:rollout_id>", RolloutApi.as_view(), name="service-rollout"),
    path(f"{service_prefix}/rollouts/<int:rollout_id>/pause", RolloutPauseApi.as_view(), name="rollout-pause"),
    path(f"{service_prefix}/rollouts/<int:rollout_id>/resume", RolloutResumeApi.as_view(), name="rollout-resume"),
    path(f"{service_prefix}/rollouts/<int:rollout_id>/abort", RolloutAbortApi.as_view(), name="rollout-abort"),
    path(f"{service_prefix}/config", ConfigApi.as_view(), name="service-config"),
    path(f"{service_prefix}/config/revisions", RevisionsApi.as_view(), name="service-config-revisions"),
    path(f"{service_prefix}/readiness", ReadinessApi.as_view(), name="service-readiness"),
    path(f"{service_prefix}/requests/<str:request_id>", DecisionApi.as_view(), name="service-decision"),
    path(f"{service_prefix}/feedback", FeedbackApi.as_view(), name="service-feedback"),
    path(f"{service_prefix}/alerts", AlertsApi.as_view(), name="service-alerts"),
    path(f"{service_prefix}/alert-rules", AlertRulesApi.as_view(), name="service-alert-rules"),
    path(f"{service_prefix}/quality", QualityApi.as_view(), name="service-quality"),
    path(f"{service_prefix}/drift", DriftApi.as_view(), name="service-drift"),
    path(f"{service_prefix}/metrics", MetricsApi.as_view(), name="service-metrics"),
    path(
        "internal/tenants/<slug:tenant>/models/<slug:model>/versions/<int:version>/artifact-url",
        ArtifactGrantApi.as_view(),
        name="internal-artifact-grant",
    ),
    path("internal/artifacts/<str:sha256>", ArtifactDownloadApi.as_view(), name="internal-artifact"),
    *router.urls,
]
