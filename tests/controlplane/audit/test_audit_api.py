"""GET …/audit: every write with who did it and what changed, newest first, for ``read`` or ``admin``."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from controlplane.audit.models import AuditEvent
from tests.factories import ModelFactory, ModelVersionFactory, ServiceFactory, TenantFactory

pytestmark = pytest.mark.django_db

ROUTING = [{"model": "iris", "version": 1, "role": "champion"}]


def test_a_deployments_put_is_audited_with_before_and_after(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    ModelVersionFactory(model=ModelFactory(tenant=service.tenant, slug="iris"))
    deployer = client_for(service.tenant)
    base = f"/api/v1/tenants/{service.tenant.slug}"

    deployer.put(f"{base}/services/{service.slug}/deployments", {"deployments": ROUTING}, format="json")
    response = client_for(service.tenant, scopes=("read",)).get(f"{base}/audit?action=deployments.replace")

    assert response.status_code == 200 and response.json()["count"] == 1
    [entry] = response.json()["results"]
    assert (entry["actor"], entry["action"], entry["target"]) == (
        deployer.actor,
        "deployments.replace",
        f"service:{service.slug}",
    )
    assert entry["diff"]["before"] == [] and entry["diff"]["revision"] == 1
    assert entry["diff"]["after"] == [
        {
            "model": "iris",
            "version": 1,
            "role": "champion",
            "weight": 100,
            "rank": 0,
            "pool": "default",
            "last_resort": False,
        }
    ]


def test_the_log_is_newest_first_filterable_and_per_tenant(client_for) -> None:  # noqa: ANN001
    tenant = TenantFactory()
    client = client_for(tenant, scopes=("admin",))
    base = f"/api/v1/tenants/{tenant.slug}"
    client.post(f"{base}/models", {"slug": "a", "name": "A"}, format="json")
    client.post(f"{base}/models", {"slug": "b", "name": "B"}, format="json")
    other = TenantFactory()
    client_for(other, scopes=("admin",)).post(
        f"/api/v1/tenants/{other.slug}/models", {"slug": "c", "name": "C"}, format="json"
    )

    everything = client.get(f"{base}/audit").json()
    only_a = client.get(f"{base}/audit", {"target": "model:a"}).json()

    assert [e["target"] for e in everything["results"] if e["action"] == "model.create"] == ["model:b", "model:a"]
    assert "model:c" not in {e["target"] for e in everything["results"]}
    assert [e["target"] for e in only_a["results"]] == ["model:a"]


def test_reading_the_log_needs_read_or_admin(client_for) -> None:  # noqa: ANN001
    tenant = TenantFactory()
    url = f"/api/v1/tenants/{tenant.slug}/audit"

    assert client_for(tenant, scopes=("admin",)).get(url).status_code == 200
    assert client_for(tenant, scopes=("read",)).get(url).status_code == 200
    predict_only = client_for(tenant, scopes=("predict",)).get(url)
    assert predict_only.status_code == 403 and "read" in predict_only.json()["detail"]
    assert client_for(TenantFactory(), scopes=("admin",)).get(url).status_code == 403


def test_the_admin_shows_entries_read_only() -> None:
    AuditEvent.objects.create(tenant=TenantFactory(), actor="admin:ops", action="service.create", target="service:x")
    client = Client()
    client.force_login(User.objects.create_superuser("ops", "ops@example.com", "pw"))

    listing = client.get("/admin/audit/auditevent/")
    entry = client.get(f"/admin/audit/auditevent/{AuditEvent.objects.get().pk}/change/")

    assert listing.status_code == 200 and "service:x" in listing.content.decode()
    assert entry.status_code == 200 and 'name="_save"' not in entry.content.decode()
    assert client.get("/admin/audit/auditevent/add/").status_code == 403


@pytest.mark.parametrize("query", ["action=%00", "target=a%00b", "x%00=1"])
def test_a_nul_in_a_query_parameter_is_400_not_a_database_error(client_for, query: str) -> None:  # noqa: ANN001
    tenant = TenantFactory()

    response = client_for(tenant, scopes=("read",)).get(f"/api/v1/tenants/{tenant.slug}/audit?{query}")

    assert response.status_code == 400, response.content
    assert "NUL" in response.json()["detail"]
