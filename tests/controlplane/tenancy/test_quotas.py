"""Per-tenant quotas: defaults from settings, the operator's overrides on the tenant, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controlplane.registry.models import ModelVersion
from controlplane.routing.models import Service
from controlplane.tenancy.quotas import TenantQuotas, quotas_resolve, tenant_quotas
from tests.controlplane.conftest import IRIS_METADATA
from tests.factories import ModelFactory, ModelVersionFactory, ServiceFactory, TenantFactory

DEFAULTS = {
    "predictions_per_s": 1000,
    "in_flight": 1000,
    "services": 100,
    "models": 100,
    "versions": 1000,
    "deadline_ms": 60_000,
    "timeout_ms": 60_000,
}


def test_an_override_wins_and_an_empty_one_keeps_the_default() -> None:
    quotas = quotas_resolve({"services": 2, "models": None, "predictions_per_s": 0}, DEFAULTS)
    assert quotas == TenantQuotas(**{**DEFAULTS, "services": 2, "predictions_per_s": 0})


@pytest.mark.django_db
def test_the_settings_give_the_defaults(settings) -> None:  # noqa: ANN001
    settings.RDV_QUOTA_MODELS = 7
    tenant = TenantFactory(quota_services=3)
    quotas = tenant_quotas(tenant)
    assert (quotas.services, quotas.models) == (3, 7)


@pytest.mark.django_db
def test_past_the_model_quota_a_create_is_409_quota_exceeded(client_for) -> None:  # noqa: ANN001
    tenant = TenantFactory(quota_models=2)
    client = client_for(tenant)
    url = f"/api/v1/tenants/{tenant.slug}/models"
    assert [client.post(url, {"slug": f"m{i}", "name": "M"}, format="json").status_code for i in range(2)] == [201] * 2

    refused = client.post(url, {"slug": "m3", "name": "M"}, format="json")

    assert refused.status_code == 409 and refused.json()["error"] == "quota_exceeded"
    assert "its quota is 2" in refused.json()["detail"]
    other = TenantFactory()
    assert (
        client_for(other)
        .post(f"/api/v1/tenants/{other.slug}/models", {"slug": "m3", "name": "M"}, format="json")
        .status_code
        == 201
    )


@pytest.mark.django_db
def test_past_the_service_quota_a_create_is_409_and_no_topic_is_made(client_for) -> None:  # noqa: ANN001
    tenant = TenantFactory(quota_services=1)
    ServiceFactory(tenant=tenant)

    refused = client_for(tenant).post(
        f"/api/v1/tenants/{tenant.slug}/services", {"slug": "two", "name": "Two", "input_schema": {}}, format="json"
    )

    assert refused.status_code == 409 and refused.json()["error"] == "quota_exceeded"
    assert Service.objects.filter(tenant=tenant).count() == 1


@pytest.mark.django_db
def test_a_deadline_above_the_tenants_maximum_is_400_on_create_and_on_update(client_for) -> None:  # noqa: ANN001
    tenant = TenantFactory(quota_deadline_ms=1000)
    client = client_for(tenant)
    body = {"slug": "svc", "name": "S", "input_schema": {}, "deadline_ms": 1001}

    created = client.post(f"/api/v1/tenants/{tenant.slug}/services", body, format="json")
    assert created.status_code == 400 and "maximum of 1000 ms" in created.json()["detail"]["deadline_ms"]

    service = ServiceFactory(tenant=tenant, deadline_ms=500)
    patched = client.patch(
        f"/api/v1/tenants/{tenant.slug}/services/{service.slug}", {"deadline_ms": 5000}, format="json"
    )
    assert patched.status_code == 400 and "deadline_ms" in patched.json()["detail"]
    service.refresh_from_db()
    assert service.deadline_ms == 500


def _upload(client, model, path: Path, metadata: dict):  # noqa: ANN001, ANN202
    with path.open("rb") as handle:
        data = {"artifact": handle, "format": "skops", "metadata": json.dumps(metadata)}
        return client.post(
            f"/api/v1/tenants/{model.tenant.slug}/models/{model.slug}/versions", data, format="multipart"
        )


@pytest.mark.django_db
def test_a_version_timeout_above_the_maximum_is_400_and_past_the_version_quota_409(
    client_for,
    iris_skops_path: Path,  # noqa: ANN001
) -> None:
    tenant = TenantFactory(quota_timeout_ms=2000, quota_versions=1)
    model = ModelFactory(tenant=tenant)
    client = client_for(tenant)

    too_slow = _upload(client, model, iris_skops_path, {**IRIS_METADATA, "timeout_ms": 2001})
    assert too_slow.status_code == 400
    assert "maximum of 2000 ms" in too_slow.json()["detail"]["metadata"]["timeout_ms"]

    ModelVersionFactory(model=model)
    over = _upload(client, model, iris_skops_path, {**IRIS_METADATA, "timeout_ms": 2000})
    assert over.status_code == 409 and over.json()["error"] == "quota_exceeded"
    assert ModelVersion.objects.filter(model=model).count() == 1


@pytest.mark.django_db
def test_a_tenant_cannot_set_its_own_quotas(client_for) -> None:  # noqa: ANN001
    tenant = TenantFactory()
    client = client_for(tenant, scopes=("admin",))
    client.patch(f"/api/v1/tenants/{tenant.slug}", {"quota_services": 10_000}, format="json")
    tenant.refresh_from_db()
    assert tenant.quota_services is None


@pytest.mark.django_db
def test_the_tenant_sees_the_quotas_in_force(client_for, settings) -> None:  # noqa: ANN001
    settings.RDV_QUOTA_MODELS = 9
    tenant = TenantFactory(quota_predictions_per_s=25)
    body = client_for(tenant, scopes=("read",)).get(f"/api/v1/tenants/{tenant.slug}").json()
    assert (body["quotas"]["predictions_per_s"], body["quotas"]["models"]) == (25, 9)
