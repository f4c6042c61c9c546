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
    predict = paths["/api/v1/tenants/{tenant}/services/{service}/predict"]["post"]
    assert {"200", "400", "401", "403", "404", "504"} <= set(predict["responses"])
    assert Client().get("/api/v1/docs").status_code == 200


def test_unknown_api_urls_answer_json_404() -> None:
    response = Client().get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


@pytest.mark.django_db
def test_schema_documents_every_ci_endpoint_with_the_error_shape() -> None:
    paths = Client().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]

    tenant = "/api/v1/tenants/{tenant}"
    service = f"{tenant}/services/{{service}}"
    expected = {
        tenant: {"get"},
        f"{tenant}/tokens": {"get", "post"},
        f"{tenant}/tokens/{{token_id}}": {"delete"},
        f"{tenant}/services": {"get", "post"},
        service: {"get", "patch", "delete"},
        f"{tenant}/models": {"get", "post"},
        f"{tenant}/models/{{model}}": {"get"},
        f"{tenant}/models/{{model}}/versions": {"get", "post"},
        f"{tenant}/models/{{model}}/versions/{{version}}": {"get"},
        f"{service}/promote": {"post"},
        f"{service}/rollback": {"post"},
        f"{service}/config/revisions": {"get"},
        f"{service}/feedback": {"post"},
        f"{service}/quality": {"get"},
        f"{service}/alerts": {"get"},
        f"{service}/alert-rules": {"get", "put"},
        f"{service}/drift": {"get"},
        f"{tenant}/audit": {"get"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) - {"parameters"} == methods, path
        for method in methods:
            assert paths[path][method]["responses"]["403"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }
    assert "409" in paths[f"{service}/promote"]["post"]["responses"]
    assert "400" in paths[f"{service}/quality"]["get"]["responses"]
    assert "413" in paths[f"{tenant}/models/{{model}}/versions"]["post"]["responses"]
