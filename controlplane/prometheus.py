"""Prometheus ``GET /metrics`` of the control plane (DESIGN.md §6 and §7, *extension (monitoring)*).

Every HTTP request is counted (by this middleware, or by the predict fast path, which Django never
sees) by the route it matched (the URL pattern, never the path: a path holds request ids and whatever
a client sends) and its status; a few gauges are read from the database at scrape time (tenants,
services, deployments by role), cached a few seconds so a scrape costs at most three small queries.

The labels name tenants and services, so ``/metrics`` is for the operators' Prometheus only: it answers
404 unless ``RDV_METRICS_TOKEN`` is set, then 401 without ``Authorization: Bearer <that token>``.
With ``uvicorn --workers N`` each worker process counts on its own; ``PROMETHEUS_MULTIPROC_DIR`` makes
prometheus_client keep the counters in files there, and a scrape of any process adds them all up.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

HTTP_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNMATCHED = "<unmatched>"
# The route of predictions, which the ASGI fast path (controlplane.gateway.asgi) answers before Django.
PREDICT_VIEW = "/api/v1/tenants/<slug:tenant>/services/<slug:service>/predict"

# Not registered anywhere: ``registry()`` decides, per process mode, how they are collected.
HTTP_REQUESTS = Counter(
    "rdv_http_requests", "HTTP requests the control plane answered, by route and status.",
    ("method", "view", "status"), registry=None,
)
HTTP_DURATION = Histogram(
    "rdv_http_request_duration_seconds", "How long the control plane took to answer, by route.",
    ("method", "view"), registry=None, buckets=HTTP_BUCKETS_S,
)


def view_label(request: HttpRequest) -> str:
    """The matched URL pattern (``api/v1/tenants/<slug:tenant>/…``), not the path."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED
    return "/" + str(match.route) if match.route else (match.view_name or UNMATCHED)


def observe_http(method: str, view: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, view, str(status)).inc()
    HTTP_DURATION.labels(method, view).observe(seconds)


def observe(request: HttpRequest, status: int, seconds: float) -> None:
    observe_http(request.method or "", view_label(request), status, seconds)


class PrometheusMiddleware:
    """Counts every request; sync and async alike, so the async gateway is not switched to a thread."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self._async:
            return self._acall(request)
        started = time.perf_counter()
        response = self.get_response(request)
        observe(request, response.status_code, time.perf_counter() - started)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = await self.get_response(request)
        observe(request, response.status_code, time.perf_counter() - started)
        return response


class DatabaseCollector(Collector):
    """Tenants, services and live deployments, cached for ``ttl_s`` (several Prometheus servers may scrape)."""

    def __init__(self, ttl_s: float = 10.0) -> None:
        self._ttl_s = ttl_s
        self._at = float("-inf")
        self._families: list[GaugeMetricFamily] = []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if time.monotonic() - self._at > self._ttl_s:
            self._families = self._read()
            self._at = time.monotonic()
        yield from self._families

    @staticmethod
    def _read() -> list[GaugeMetricFamily]:
        from controlplane.routing.models import Deployment, Service
        from controlplane.tenancy.models import Tenant

        tenants = GaugeMetricFamily("rdv_tenants", "Tenants.")
        tenants.add_metric([], Tenant.objects.count())
        services = GaugeMetricFamily("rdv_services", "Services per tenant.", labels=("tenant",))
        for row in Service.objects.values("tenant__slug").annotate(n=Count("pk")).order_by("tenant__slug"):
            services.add_metric([row["tenant__slug"]], row["n"])
        deployments = GaugeMetricFamily(
            "rdv_deployments", "Deployments in each service's routing table, by role.",
            labels=("tenant", "service", "role"),
        )
        rows = (
            Deployment.objects.values("service__tenant__slug", "service__slug", "role")
            .annotate(n=Count("pk"))
            .order_by("service__tenant__slug", "service__slug", "role")
        )
        for row in rows:
            deployments.add_metric([row["service__tenant__slug"], row["service__slug"], row["role"]], row["n"])
        return [tenants, services, deployments]


_DATABASE = DatabaseCollector()


def registry() -> CollectorRegistry:
    collected = CollectorRegistry(auto_describe=False)
    directory = settings.RDV_PROMETHEUS_MULTIPROC_DIR
    if directory:
        # Every server process's counters, from the files prometheus_client keeps there.
        MultiProcessCollector(collected, path=directory)
    else:
        collected.register(HTTP_REQUESTS)
        collected.register(HTTP_DURATION)
        ProcessCollector(registry=collected)
    collected.register(_DATABASE)
    return collected


def authorized(request: HttpRequest, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.RDV_METRICS_TOKEN
    if not token:
        return JsonResponse({"error": "not_found", "detail": "Not found."}, status=404)
    if not authorized(request, token):
        response = JsonResponse({"error": "not_authenticated", "detail": "A metrics token is required."}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
