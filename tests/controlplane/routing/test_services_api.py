"""Services over HTTP: create (topics + revision 1), read, patch, delete (tombstone), and their errors."""

from __future__ import annotations

import pytest

from contracts import ServiceConfig, config_key, decode, service_topics
from contracts.kafka import Admin
from controlplane.audit.models import AuditEvent
from controlplane.routing.models import ConfigRevision, Service
from controlplane.tenancy.models import Tenant
from tests.factories import DeploymentFactory, ServiceFactory, TenantFactory, unique_slug

SCHEMA = {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}


def _url(tenant: Tenant, slug: str | None = None) -> str:
    base = f"/api/v1/tenants/{tenant.slug}/services"
    return f"{base}/{slug}" if slug else base


@pytest.mark.django_db(transaction=True)
def test_create_makes_topics_publishes_revision_1_and_is_audited(client_for, kafka: Admin, config_reader) -> None:  # noqa: ANN001
    tenant = TenantFactory()
    client = client_for(tenant)
    slug = unique_slug("svc")
    body = {"slug": slug, "name": "Svc", "input_schema": SCHEMA, "deadline_ms": 300}

    response = client.post(_url(tenant), body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json() == {
        **body,
        "external_state": {},
        "partitions": 4,
        "created_at": response.json()["created_at"],
    }
    assert kafka.partition_count(service_topics(tenant.slug, slug).requests) == 4
    [value] = config_reader(config_key(tenant.slug, slug))
    assert decode(ServiceConfig, value).revision == 1
    assert ConfigRevision.objects.get(service__slug=slug).actor == client.actor
    event = AuditEvent.objects.get(action="service.create")
    assert (event.actor, event.target) == (client.actor, f"service:{slug}")
    assert event.diff["created"]["deadline_ms"] == 300 and event.diff["created"]["input_schema"] == SCHEMA


@pytest.mark.django_db
def test_an_invalid_json_schema_is_400_with_details(client_for) -> None:  # noqa: ANN001
    tenant = TenantFactory()

    response = client_for(tenant).post(
        _url(tenant), {"slug": "svc", "name": "Svc", "input_schema": {"type": "nonsense"}}, format="json"
    )

    assert response.status_code == 400 and response.json()["error"] == "invalid"
    assert "input_schema" in response.json()["detail"]
    assert "not a valid JSON Schema" in str(response.json()["detail"]["input_schema"])
    assert not Service.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "Bad_Slug", "name": "x", "input_schema": {}}, "slug"),
        ({"slug": "svc", "name": "x", "input_schema": {}, "deadline_ms": 0}, "deadline_ms"),
        ({"slug": "svc", "name": "x", "input_schema": []}, "input_schema"),
        ({"slug": "svc", "input_schema": {}}, "name"),
    ],
)
def test_malformed_bodies_are_400(client_for, body: dict, field: str) -> None:  # noqa: ANN001
    tenant = TenantFactory()

    response = client_for(tenant).post(_url(tenant), body, format="json")

    assert response.status_code == 400 and field in response.json()["detail"]


@pytest.mark.django_db
def test_a_duplicate_slug_is_409(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()

    response = client_for(service.tenant).post(
        _url(service.tenant), {"slug": service.slug, "name": "Again", "input_schema": {}}, format="json"
    )

    assert response.status_code == 409 and response.json()["error"] == "conflict"
    assert service.slug in response.json()["detail"]


@pytest.mark.django_db
def test_list_is_paginated_and_shows_only_this_tenant(client_for) -> None:  # noqa: ANN001
    mine = ServiceFactory()
    ServiceFactory(tenant=mine.tenant)
    ServiceFactory()

    response = client_for(mine.tenant, scopes=("read",)).get(_url(mine.tenant))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and body["next"] is None and body["previous"] is None
    assert {s["slug"] for s in body["results"]} == set(mine.tenant.services.values_list("slug", flat=True))


@pytest.mark.django_db
def test_get_one_and_unknown_is_404(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    client = client_for(service.tenant, scopes=("read",))

    found = client.get(_url(service.tenant, service.slug))
    missing = client.get(_url(service.tenant, "ghost"))

    assert found.status_code == 200 and found.json()["slug"] == service.slug
    assert found.json()["input_schema"] == {"type": "object"}
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


@pytest.mark.django_db
def test_writes_need_the_deploy_scope_and_the_right_tenant(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    reader = client_for(service.tenant, scopes=("read",))
    stranger = client_for(TenantFactory())

    for client in (reader, stranger):
        create = client.post(_url(service.tenant), {"slug": "x", "name": "x", "input_schema": {}}, format="json")
        patch = client.patch(_url(service.tenant, service.slug), {"name": "y"}, format="json")
        delete = client.delete(_url(service.tenant, service.slug))
        assert {create.status_code, patch.status_code, delete.status_code} == {403}
    assert Service.objects.filter(pk=service.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_patch_deadline_publishes_a_revision_and_audits_the_change(client_for, config_reader) -> None:  # noqa: ANN001
    service = ServiceFactory(deadline_ms=200)
    client = client_for(service.tenant)

    response = client.patch(_url(service.tenant, service.slug), {"deadline_ms": 350, "name": "New"}, format="json")

    assert response.status_code == 200 and response.json()["deadline_ms"] == 350 and response.json()["name"] == "New"
    [value] = config_reader(config_key(service.tenant.slug, service.slug))
    assert decode(ServiceConfig, value).deadline_ms == 350
    event = AuditEvent.objects.get(action="service.update")
    assert event.actor == client.actor
    assert event.diff == {
        "changed": {"deadline_ms": {"before": 200, "after": 350}, "name": {"before": service.name, "after": "New"}}
    }


@pytest.mark.django_db
def test_patch_name_only_publishes_nothing_and_bad_schema_is_400(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    client = client_for(service.tenant)

    renamed = client.patch(_url(service.tenant, service.slug), {"name": "Renamed"}, format="json")
    bad = client.patch(_url(service.tenant, service.slug), {"input_schema": {"type": 5}}, format="json")

    assert renamed.status_code == 200 and not ConfigRevision.objects.filter(service=service).exists()
    assert bad.status_code == 400 and "input_schema" in bad.json()["detail"]
    service.refresh_from_db()
    assert service.input_schema == {"type": "object"}


@pytest.mark.django_db(transaction=True)
def test_delete_tombstones_the_config_key_and_is_audited(client_for, config_reader) -> None:  # noqa: ANN001
    deployment = DeploymentFactory()
    service = deployment.service
    client = client_for(service.tenant)

    response = client.delete(_url(service.tenant, service.slug))

    assert response.status_code == 204
    assert config_reader(config_key(service.tenant.slug, service.slug)) == [None]
    assert not Service.objects.filter(pk=service.pk).exists()
    event = AuditEvent.objects.get(action="service.delete")
    assert event.actor == client.actor and event.diff["deleted"]["slug"] == service.slug
    assert event.diff["deleted"]["deployments"][0]["role"] == "champion"
