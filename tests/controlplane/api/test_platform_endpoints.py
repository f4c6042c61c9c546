"""Probes and the OpenAPI document answer without a token."""

from __future__ import annotations

import pytest
from django.test import Client


def test_healthz_always_answers() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_the_database() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200 and response.json()["database"] == "ok"
    assert response.json()["stream"].startswith("rdv.replies[")


@pytest.mark.django_db
def test_schema_documents_the_routing_endpoints() -> None:
    response = Client().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/tenants/{tenant}/services/{service}/deployments" in paths
    assert Client().get("/api/v1/docs").status_code == 200


def test_unknown_api_urls_answer_json_404() -> None:
    response = Client().get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json()["error"] == "not_found"
