"""Acceptance: a version that does not go live on its runners is rolled back automatically, with the reason
recorded — real runner, real status consumer, real Celery beat, the public API to watch it happen."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from django.conf import settings

from tests.e2e.conftest import FEATURES, INPUT_SCHEMA
from tests.e2e.fleet import ControlPlaneBackground
from tests.e2e.test_predict import ROWS, inputs_of

READY_TIMEOUT_S = 30
# The beat's interval plus a task's run: how long after the verdict the rollback may come.
TICK_S = 5


@pytest.fixture(scope="module")
def fallback_service(platform, django_db_blocker, tmp_path_factory):  # noqa: ANN001, ANN201
    """A service answered by iris v1, a ``broken`` model whose v1 passed validation but no runner can load
    (its artifact is not a model), and the status consumer plus Celery beat running the fallback."""
    from controlplane.registry.services import model_create
    from controlplane.routing.services import deployments_replace, service_create
    from controlplane.tenancy.models import Tenant
    from tests.factories import ModelVersionFactory

    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(slug=platform.tenant)
        service = service_create(tenant=tenant, slug=f"fb-{uuid.uuid4().hex[:8]}", name="Fallback",
                                 input_schema=INPUT_SCHEMA, deadline_ms=800)
        deployments_replace(service=service, deployments=[{"model": "iris", "version": 1, "role": "champion"}],
                            actor="e2e")
        broken = model_create(tenant=tenant, slug="broken", name="Broken")
        ModelVersionFactory(model=broken, metadata={"features": FEATURES, "example": inputs_of(ROWS[0])})
        background = ControlPlaneBackground(
            {
                "RDV_KAFKA_CLIENT": platform.client,
                "RDV_KAFKA_BOOTSTRAP": settings.RDV_KAFKA.bootstrap_servers,
                "RDV_READY_TIMEOUT_S": str(READY_TIMEOUT_S),
                "RDV_FALLBACK_INTERVAL_S": "1",
            },
            tmp_path_factory.mktemp(f"fallback-{platform.client}"),
        )
        try:
            yield service.slug, background.wait_ready()
        finally:
            background.stop()


def _get(platform, service: str, path: str) -> dict:  # noqa: ANN001
    url = f"{platform.url}/api/v1/tenants/{platform.tenant}/services/{service}/{path}"
    response = httpx.get(url, headers=platform.auth(), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _readiness_until(platform, service: str, revision: int, states: set[str], timeout: float) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        body = _get(platform, service, f"readiness?revision={revision}")
        if body["state"] in states:
            return body
        assert time.monotonic() < deadline, f"revision {revision} still {body['state']}: {body}"
        time.sleep(0.25)


def _answered_by_iris_v1(platform, service: str) -> None:  # noqa: ANN001
    # The first requests of a new service on a busy machine may miss their 800 ms deadline, and with
    # kafka-python the new topics' partitions may wait for a stalled rebalance (REJOIN_STALL_S) first.
    deadline = time.monotonic() + 45
    while True:
        answer = httpx.post(platform.predict_url(service=service), json={"inputs": inputs_of(ROWS[0])},
                            headers=platform.auth(), timeout=10)
        if answer.status_code == 200 or time.monotonic() > deadline:
            break
    assert answer.status_code == 200, answer.text
    assert (answer.json()["model"], answer.json()["version"]) == ("iris", 1)


def test_a_version_its_runners_cannot_load_is_rolled_back_with_the_reason(platform, fallback_service):  # noqa: ANN001
    service, background = fallback_service
    live = _get(platform, service, "readiness")
    # Loading can take a while on a busy machine: the runner has only two loading threads.
    ready = _readiness_until(platform, service, live["revision"], {"ready"}, 90)
    assert ready["deployments"][0]["runners_ready"] >= 1 and ready["workers"]["rendezvous_live"] >= 1
    assert ready["workers"]["applied"] >= 2  # the runner and the rendezvous worker both run on it
    _answered_by_iris_v1(platform, service)

    started = time.monotonic()
    response = httpx.put(
        f"{platform.url}/api/v1/tenants/{platform.tenant}/services/{service}/deployments",
        json={"deployments": [{"model": "broken", "version": 1, "role": "champion"},
                              {"model": "iris", "version": 1, "role": "fallback", "rank": 1}]},
        headers=platform.auth(), timeout=10,
    )
    assert response.status_code == 200, response.text
    bad = response.json()["revision"]

    verdict = _readiness_until(platform, service, bad, {"rolled_back", "stuck"}, READY_TIMEOUT_S + TICK_S + 10)
    elapsed = time.monotonic() - started
    assert verdict["state"] == "rolled_back", verdict
    assert elapsed < READY_TIMEOUT_S + TICK_S, f"rolled back after {elapsed:.1f} s"
    # The runner's own error, as soon as it gave up on the artifact (the time limit is the backstop).
    assert "broken v1 (champion, pool default) failed on runner" in verdict["detail"], verdict
    assert "not a readable skops file" in verdict["detail"]
    restored = verdict["rolled_back_by"]

    routing = _get(platform, service, "deployments")
    assert routing["revision"] == restored
    assert [(d["model"], d["version"], d["role"]) for d in routing["deployments"]] == [("iris", 1, "champion")]
    config = _get(platform, service, "config")
    assert config["actor"] == "system:auto-fallback" and verdict["detail"] in config["reason"]
    audit = httpx.get(f"{platform.url}/api/v1/tenants/{platform.tenant}/audit", headers=platform.auth(),
                      timeout=10).json()["results"]
    rollback = next(e for e in audit if e["action"] == "service.rollback" and e["target"] == f"service:{service}")
    assert rollback["actor"] == "system:auto-fallback" and verdict["detail"] in rollback["diff"]["reason"]

    _answered_by_iris_v1(platform, service)
    # Once, not again: the restored routing goes live and stays.
    _readiness_until(platform, service, restored, {"ready"}, 30)
    time.sleep(3)
    assert _get(platform, service, "config")["revision"] == restored
