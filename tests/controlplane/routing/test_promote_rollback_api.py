"""Promote and rollback as CI calls them; what reaches ``rdv.config`` is read back from the broker."""

from __future__ import annotations

import pytest

from contracts import ServiceConfig, config_key, decode
from controlplane.audit.models import AuditEvent
from controlplane.registry.models import ModelVersion
from controlplane.routing.models import ConfigRevision, Service
from controlplane.routing.selectors import deployments_list
from controlplane.routing.services import deployments_replace
from tests.factories import ModelFactory, ModelVersionFactory, ServiceFactory, TenantFactory


def _service(versions: int = 3, **statuses: str) -> Service:
    """A service with iris v1..vN (ready unless ``v<n>=status``) and v1 as the champion (revision 1)."""
    service = ServiceFactory()
    model = ModelFactory(tenant=service.tenant, slug="iris")
    for number in range(1, versions + 1):
        ModelVersionFactory(model=model, status=statuses.get(f"v{number}", ModelVersion.Status.READY))
    deployments_replace(
        service=service, deployments=[{"model": "iris", "version": 1, "role": "champion"}], actor="setup"
    )
    return service


def _url(service: Service, what: str) -> str:
    return f"/api/v1/tenants/{service.tenant.slug}/services/{service.slug}/{what}"


def _roles(snapshot: ServiceConfig) -> list[tuple[int, str, int, int]]:
    return [(d.version, d.role, d.weight, d.rank) for d in snapshot.deployments]


@pytest.mark.django_db(transaction=True)
def test_promote_switches_the_champion_and_publishes_the_snapshot(client_for, config_reader) -> None:  # noqa: ANN001
    service = _service()
    client = client_for(service.tenant)

    response = client.post(_url(service, "promote"), {"model": "iris", "version": 2}, format="json")

    assert response.status_code == 200 and response.json() == {"revision": 2}
    # Revision 1 (the setup) is on the topic first.
    _, value = config_reader(config_key(service.tenant.slug, service.slug), count=2)
    snapshot = decode(ServiceConfig, value)
    assert snapshot.revision == 2
    assert _roles(snapshot) == [(2, "champion", 100, 0), (1, "fallback", 100, 1)]
    revision = ConfigRevision.objects.get(service=service, number=2)
    assert revision.actor == client.actor and revision.published_at is not None
    event = AuditEvent.objects.get(action="service.promote")
    assert event.actor == client.actor and event.target == f"service:{service.slug}"
    assert event.diff["promoted"] == {"model": "iris", "version": 2} and event.diff["revision"] == 2
    assert [r["version"] for r in event.diff["before"]] == [1]
    assert [(r["version"], r["role"]) for r in event.diff["after"]] == [(2, "champion"), (1, "fallback")]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [ModelVersion.Status.FAILED, ModelVersion.Status.VALIDATING])
def test_promoting_a_version_that_is_not_ready_is_409_and_routing_is_unchanged(client_for, status: str) -> None:  # noqa: ANN001
    service = _service(v2=status)
    before = deployments_list(service=service)

    response = client_for(service.tenant).post(_url(service, "promote"), {"model": "iris", "version": 2}, format="json")

    assert response.status_code == 409 and response.json()["error"] == "conflict"
    assert f"iris v2 is {status}" in response.json()["detail"]
    assert deployments_list(service=service) == before
    assert ConfigRevision.objects.filter(service=service).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{"model": "iris", "version": 9}, {"model": "ghost", "version": 1}, {"model": "iris"}])
def test_promoting_an_unknown_or_missing_version_is_400(client_for, body: dict) -> None:  # noqa: ANN001
    service = _service()

    response = client_for(service.tenant).post(_url(service, "promote"), body, format="json")

    assert response.status_code == 400 and response.json()["error"] == "invalid"
    assert "version" in str(response.json()["detail"])


@pytest.mark.django_db
def test_promote_and_rollback_need_deploy_and_the_right_tenant(client_for) -> None:  # noqa: ANN001
    service = _service()

    for client in (client_for(service.tenant, scopes=("read", "predict")), client_for(TenantFactory())):
        promote = client.post(_url(service, "promote"), {"model": "iris", "version": 2}, format="json")
        rollback = client.post(_url(service, "rollback"), {}, format="json")
        assert promote.status_code == rollback.status_code == 403
    assert ConfigRevision.objects.filter(service=service).count() == 1


@pytest.mark.django_db
def test_promoting_the_sole_champion_again_changes_nothing(client_for) -> None:  # noqa: ANN001
    service = _service()

    response = client_for(service.tenant).post(_url(service, "promote"), {"model": "iris", "version": 1}, format="json")

    assert response.status_code == 200 and response.json() == {"revision": 1}
    assert not AuditEvent.objects.filter(action="service.promote").exists()


@pytest.mark.django_db(transaction=True)
def test_rollback_republishes_the_previous_routing_as_a_new_revision(client_for, config_reader) -> None:  # noqa: ANN001
    service = _service()
    client = client_for(service.tenant)
    client.post(_url(service, "promote"), {"model": "iris", "version": 2}, format="json")

    response = client.post(_url(service, "rollback"), {}, format="json")

    assert response.status_code == 200 and response.json() == {"revision": 3, "restored_from": 1}
    *_, value = config_reader(config_key(service.tenant.slug, service.slug), count=3)
    snapshot = decode(ServiceConfig, value)
    assert snapshot.revision == 3 and _roles(snapshot) == [(1, "champion", 100, 0)]
    event = AuditEvent.objects.get(action="service.rollback")
    assert event.actor == client.actor and event.diff["restored_from"] == 1
    assert [(r["version"], r["role"]) for r in event.diff["before"]] == [(2, "champion"), (1, "fallback")]
    assert [(r["version"], r["role"]) for r in event.diff["after"]] == [(1, "champion")]
    # A second rollback undoes the first.
    again = client.post(_url(service, "rollback"), format="json")
    assert again.json() == {"revision": 4, "restored_from": 2}
    assert [(d["version"], d["role"]) for d in deployments_list(service=service)] == [(2, "champion"), (1, "fallback")]


@pytest.mark.django_db
def test_rollback_to_a_given_revision(client_for) -> None:  # noqa: ANN001
    service = _service()
    client = client_for(service.tenant)
    client.post(_url(service, "promote"), {"model": "iris", "version": 2}, format="json")
    client.post(_url(service, "promote"), {"model": "iris", "version": 3}, format="json")

    response = client.post(_url(service, "rollback"), {"revision": 2}, format="json")

    assert response.json() == {"revision": 4, "restored_from": 2}
    latest = ConfigRevision.objects.get(service=service, number=4)
    assert [(d["version"], d["role"]) for d in latest.snapshot["deployments"]] == [(2, "champion"), (1, "fallback")]


@pytest.mark.django_db
def test_rollback_to_a_version_no_longer_ready_is_409_and_unknown_revision_is_400(client_for) -> None:  # noqa: ANN001
    service = _service()
    client = client_for(service.tenant)
    client.post(_url(service, "promote"), {"model": "iris", "version": 2}, format="json")
    ModelVersion.objects.filter(model__slug="iris", number=1).update(status=ModelVersion.Status.FAILED)
    before = deployments_list(service=service)

    conflict = client.post(_url(service, "rollback"), {"revision": 1}, format="json")
    unknown = client.post(_url(service, "rollback"), {"revision": 99}, format="json")

    assert conflict.status_code == 409 and "iris v1 is failed" in conflict.json()["detail"]
    assert unknown.status_code == 400 and "no revision 99" in str(unknown.json()["detail"])
    assert deployments_list(service=service) == before


@pytest.mark.django_db
def test_rollback_with_no_earlier_routing_is_409(client_for) -> None:  # noqa: ANN001
    service = _service()

    response = client_for(service.tenant).post(_url(service, "rollback"), {}, format="json")

    assert response.status_code == 409 and "nothing to roll back to" in response.json()["detail"]


@pytest.mark.django_db
def test_revisions_history_is_paginated_newest_first(client_for) -> None:  # noqa: ANN001
    service = _service()
    client = client_for(service.tenant)
    client.post(_url(service, "promote"), {"model": "iris", "version": 2}, format="json")

    response = client_for(service.tenant, scopes=("read",)).get(_url(service, "config/revisions"))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and [r["revision"] for r in body["results"]] == [2, 1]
    assert [r["actor"] for r in body["results"]] == [client.actor, "setup"]
    assert body["results"][0]["snapshot"]["deployments"][0]["version"] == 2
    assert set(body["results"][0]) == {"revision", "actor", "reason", "created_at", "published_at", "snapshot"}
    assert body["results"][0]["reason"] == ""
    unknown = client.get(f"/api/v1/tenants/{service.tenant.slug}/services/ghost/config/revisions")
    assert unknown.status_code == 404
