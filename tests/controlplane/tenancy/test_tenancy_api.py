"""The tenant and its tokens over HTTP: secrets shown once, only to ``admin`` tokens of that tenant."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from controlplane.audit.models import AuditEvent
from controlplane.tenancy.models import ApiToken, Tenant
from tests.factories import ServiceFactory, TenantFactory

pytestmark = pytest.mark.django_db


def _tokens(tenant: Tenant) -> str:
    return f"/api/v1/tenants/{tenant.slug}/tokens"


def test_get_tenant_answers_slug_name_and_usage(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()

    response = client_for(service.tenant, scopes=("read",)).get(f"/api/v1/tenants/{service.tenant.slug}")

    assert response.status_code == 200
    body = response.json()
    assert (body["slug"], body["name"]) == (service.tenant.slug, service.tenant.name) and body["created_at"]
    assert body["usage"] == {"services": 1, "models": 0, "active_tokens": 1}


def test_another_tenant_is_403(client_for) -> None:  # noqa: ANN001
    response = client_for(TenantFactory()).get(f"/api/v1/tenants/{TenantFactory().slug}")

    assert response.status_code == 403 and response.json()["error"] == "forbidden"


def test_create_shows_the_secret_once_and_it_authenticates(client_for) -> None:  # noqa: ANN001
    tenant = TenantFactory()
    admin = client_for(tenant, scopes=("admin",))

    created = admin.post(_tokens(tenant), {"name": "ci", "scopes": ["read", "deploy"]}, format="json")
    listed = admin.get(_tokens(tenant))

    assert created.status_code == 201
    body = created.json()
    assert body["token"].startswith(f"rdv_{body['prefix']}_") and body["scopes"] == ["deploy", "read"]
    new_client = APIClient()
    new_client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert new_client.get(f"/api/v1/tenants/{tenant.slug}/services").status_code == 200
    assert listed.status_code == 200 and listed.json()["count"] == 2
    assert body["token"] not in listed.content.decode()
    assert {t["prefix"] for t in listed.json()["results"]} == set(ApiToken.objects.values_list("prefix", flat=True))
    assert "token" not in listed.json()["results"][0]


def test_revoke_is_204_and_the_token_stops_working(client_for) -> None:  # noqa: ANN001
    tenant = TenantFactory()
    admin = client_for(tenant, scopes=("admin",))
    ci = client_for(tenant, scopes=("read",))

    response = admin.delete(f"{_tokens(tenant)}/{ci.token.pk}")
    again = admin.delete(f"{_tokens(tenant)}/{ci.token.pk}")

    assert response.status_code == 204 and again.status_code == 204
    assert ci.get(f"/api/v1/tenants/{tenant.slug}").status_code == 401
    event = AuditEvent.objects.get(action="token.revoke")
    assert (event.actor, event.target) == (admin.actor, f"token:{ci.token.prefix}")
    assert event.diff["changed"]["revoked_at"]["before"] is None


def test_token_management_needs_the_admin_scope(client_for) -> None:  # noqa: ANN001
    tenant = TenantFactory()
    deployer = client_for(tenant, scopes=("read", "deploy", "predict"))

    listing = deployer.get(_tokens(tenant))
    creating = deployer.post(_tokens(tenant), {"name": "x", "scopes": ["admin"]}, format="json")
    revoking = deployer.delete(f"{_tokens(tenant)}/{deployer.token.pk}")

    for response in (listing, creating, revoking):
        assert response.status_code == 403 and "admin" in response.json()["detail"]


@pytest.mark.parametrize(
    "body", [{"name": "ci", "scopes": []}, {"name": "ci", "scopes": ["root"]}, {"scopes": ["read"]}]
)
def test_invalid_token_requests_are_400(client_for, body: dict) -> None:  # noqa: ANN001
    tenant = TenantFactory()

    response = client_for(tenant, scopes=("admin",)).post(_tokens(tenant), body, format="json")

    assert response.status_code == 400 and response.json()["error"] == "invalid"


def test_another_tenants_token_id_is_404(client_for) -> None:  # noqa: ANN001
    mine, theirs = TenantFactory(), TenantFactory()
    their_token = client_for(theirs).token

    response = client_for(mine, scopes=("admin",)).delete(f"{_tokens(mine)}/{their_token.pk}")

    assert response.status_code == 404 and response.json()["error"] == "not_found"
    their_token.refresh_from_db()
    assert their_token.revoked_at is None


def test_token_creation_is_audited_with_the_creator(client_for) -> None:  # noqa: ANN001
    tenant = TenantFactory()
    admin = client_for(tenant, scopes=("admin",))

    prefix = admin.post(_tokens(tenant), {"name": "ci", "scopes": ["read"]}, format="json").json()["prefix"]

    event = AuditEvent.objects.get(tenant=tenant, action="token.create", target=f"token:{prefix}")
    assert event.actor == admin.actor and event.actor.startswith("token:test (rdv_")
    assert event.diff["created"]["scopes"] == ["read"] and event.diff["created"]["name"] == "ci"
