"""A service's external-state spec over HTTP: a valid one is stored and published, a bad one is 400."""

from __future__ import annotations

import pytest

from contracts import ServiceConfig, config_key, decode
from controlplane.routing.models import ConfigRevision, Service
from controlplane.tenancy.models import Tenant
from tests.factories import ServiceFactory, TenantFactory, unique_slug

SCHEMA = {"type": "object", "properties": {"amount": {"type": "number"}, "country": {"type": "string"}}}
SPEC = {
    "providers": [
        {"type": "clock", "fields": ["hour", "weekday"], "timezone": "Europe/Paris"},
        {"type": "lookup", "key": "country", "table": {"fr": {"risk": 0.2}}, "default": {"risk": 0.5}},
        {"type": "redis", "key": "user_key", "prefix": "u:", "fields": ["visits"], "default": {"visits": 0}},
    ]
}


def _url(tenant: Tenant, slug: str | None = None) -> str:
    base = f"/api/v1/tenants/{tenant.slug}/services"
    return f"{base}/{slug}" if slug else base


@pytest.mark.django_db(transaction=True)
def test_a_valid_spec_is_stored_answered_and_published(client_for, config_reader) -> None:  # noqa: ANN001
    tenant = TenantFactory()
    slug = unique_slug("svc")
    body = {"slug": slug, "name": "Svc", "input_schema": SCHEMA, "external_state": SPEC}

    response = client_for(tenant).post(_url(tenant), body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["external_state"] == SPEC
    [value] = config_reader(config_key(tenant.slug, slug))
    assert decode(ServiceConfig, value).external_state == SPEC


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"providers": [{"type": "clock", "fields": ["hour"], "timezone": "Mars/Base"}]}, "unknown time zone"),
        ({"providers": [{"type": "weather"}]}, "providers[0].type: must be one of clock, lookup, redis"),
        ({"providers": [{"type": "clock", "fields": ["hour"]}], "extra": 1}, "unknown field(s) extra"),
        (
            {"providers": [{"type": "lookup", "key": "amount", "table": {}, "default": {"country": "fr"}}]},
            "field 'country' collides with an input",
        ),
        (
            {"providers": [{"type": "redis", "key": "account", "fields": ["a"], "default": {"a": 0}}]},
            "key 'account' is not an input",
        ),
    ],
)
def test_create_with_a_bad_spec_is_400_naming_the_problem(client_for, spec: dict, problem: str) -> None:  # noqa: ANN001
    tenant = TenantFactory()
    body = {"slug": "svc", "name": "Svc", "input_schema": SCHEMA, "external_state": spec}

    response = client_for(tenant).post(_url(tenant), body, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["error"] == "invalid"
    assert any(problem in line for line in response.json()["detail"]["external_state"]), response.json()
    assert not Service.objects.filter(tenant=tenant).exists()


@pytest.mark.django_db
def test_patch_with_a_bad_spec_or_a_schema_that_now_collides_is_400_and_changes_nothing(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory(input_schema=SCHEMA, external_state=SPEC)
    client = client_for(service.tenant)

    bad_spec = client.patch(_url(service.tenant, service.slug), {"external_state": {"providers": 3}}, format="json")
    colliding = client.patch(
        _url(service.tenant, service.slug),
        {"input_schema": {**SCHEMA, "properties": {**SCHEMA["properties"], "hour": {"type": "integer"}}}},
        format="json",
    )

    assert bad_spec.status_code == 400 and bad_spec.json()["detail"]["external_state"] == [
        "providers: must be a list of provider objects"
    ]
    assert colliding.status_code == 400
    assert (
        "providers[0]: field 'hour' collides with an input of the service's input_schema"
        in (colliding.json()["detail"]["external_state"])
    )
    service.refresh_from_db()
    assert (service.external_state, service.input_schema) == (SPEC, SCHEMA)
    assert not ConfigRevision.objects.filter(service=service).exists()


@pytest.mark.django_db(transaction=True)
def test_patch_with_a_valid_spec_publishes_a_revision(client_for, config_reader) -> None:  # noqa: ANN001
    service = ServiceFactory(input_schema=SCHEMA)
    client = client_for(service.tenant)

    response = client.patch(_url(service.tenant, service.slug), {"external_state": SPEC}, format="json")

    assert response.status_code == 200 and response.json()["external_state"] == SPEC
    [value] = config_reader(config_key(service.tenant.slug, service.slug))
    assert decode(ServiceConfig, value).external_state == SPEC
