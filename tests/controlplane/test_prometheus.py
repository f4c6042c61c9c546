"""Prometheus ``GET /metrics`` of the control plane: for the operators' token only, requests counted by
route (never by path) and status, gauges from the database, and every server process added up."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client
from django.urls import resolve
from prometheus_client.parser import text_string_to_metric_families

from controlplane import prometheus
from tests.factories import DeploymentFactory, ServiceFactory, TenantFactory

TOKEN = "operators-metrics-token"
ROOT = Path(__file__).resolve().parents[2]
REQUEST_ROUTE = "/api/v1/tenants/<slug:tenant>/services/<slug:service>/requests/<str:request_id>"


@pytest.fixture
def metrics_token(settings) -> str:  # noqa: ANN001
    settings.RDV_METRICS_TOKEN = TOKEN
    settings.RDV_PROMETHEUS_MULTIPROC_DIR = ""
    prometheus._DATABASE._at = float("-inf")  # no gauges cached from another test
    return TOKEN


def scrape(client: Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    families = text_string_to_metric_families(response.content.decode())
    return {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}


def requests_of(got: dict, view: str, status: str, method: str = "GET") -> float:
    labels = frozenset({"method": method, "view": view, "status": status}.items())
    return got.get(("rdv_http_requests_total", labels), 0)


@pytest.mark.django_db
def test_metrics_are_off_without_a_token(settings) -> None:  # noqa: ANN001
    settings.RDV_METRICS_TOKEN = ""
    response = Client().get("/metrics")
    assert response.status_code == 404


@pytest.mark.django_db
def test_only_the_operators_token_reads_the_metrics(
    metrics_token: str, client_for: Callable[..., object]
) -> None:
    # A tenant's own token, even with every scope, is not the operators' token: the labels name other tenants.
    tenant_client = client_for(TenantFactory(), scopes=("read", "deploy", "predict", "admin"))
    assert tenant_client.get("/metrics").status_code == 401  # type: ignore[attr-defined]
    assert Client().get("/metrics").status_code == 401
    refused = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer not-it")
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer")
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Basic {metrics_token}").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {metrics_token}").status_code == 200


@pytest.mark.django_db
def test_requests_are_counted_by_route_and_status_never_by_path(metrics_token: str) -> None:
    client = Client()
    before = scrape(client)
    secret_path = "/api/v1/tenants/acme/services/churn/requests/some-request-id-1234"
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert client.get(secret_path).status_code in (401, 404)
    assert client.get("/no/such/page/sk-secret").status_code == 404
    after = scrape(client)
    assert requests_of(after, "/healthz", "200") - requests_of(before, "/healthz", "200") == 3
    assert requests_of(after, prometheus.UNMATCHED, "404") - requests_of(before, prometheus.UNMATCHED, "404") == 1
    views = {dict(labels)["view"] for name, labels in after if name == "rdv_http_requests_total"}
    assert REQUEST_ROUTE in views
    text = "\n".join(str(key) for key in after)
    assert "some-request-id-1234" not in text and "sk-secret" not in text
    duration = ("rdv_http_request_duration_seconds_count", frozenset({"method": "GET", "view": "/healthz"}.items()))
    assert after[duration] - before.get(duration, 0) == 3


def test_the_fast_paths_predict_label_is_djangos_route_for_predictions() -> None:
    match = resolve("/api/v1/tenants/acme/services/churn/predict")
    assert "/" + match.route == prometheus.PREDICT_VIEW


@pytest.mark.django_db
def test_tenants_services_and_deployments_come_from_the_database(metrics_token: str) -> None:
    tenant = TenantFactory()
    service = ServiceFactory(tenant=tenant)
    ServiceFactory(tenant=tenant)
    DeploymentFactory(service=service)
    DeploymentFactory(service=service, role="challenger")
    DeploymentFactory(service=service, role="challenger")
    got = scrape(Client())
    assert got[("rdv_services", frozenset({"tenant": tenant.slug}.items()))] == 2
    deployments = {"tenant": tenant.slug, "service": service.slug}
    assert got[("rdv_deployments", frozenset({**deployments, "role": "champion"}.items()))] == 1
    assert got[("rdv_deployments", frozenset({**deployments, "role": "challenger"}.items()))] == 2
    assert got[("rdv_tenants", frozenset())] >= 1


@pytest.mark.django_db
def test_with_several_server_processes_a_scrape_adds_up_all_their_counters(
    metrics_token: str, settings, tmp_path: Path  # noqa: ANN001
) -> None:
    # Two server processes (uvicorn --workers 2) each count a request in the shared directory.
    count = "from controlplane.prometheus import HTTP_REQUESTS; HTTP_REQUESTS.labels('GET', '/x', '200').inc()"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], cwd=ROOT, check=True,
                       env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    settings.RDV_PROMETHEUS_MULTIPROC_DIR = str(tmp_path)
    got = scrape(Client())
    assert requests_of(got, "/x", "200") == 2
