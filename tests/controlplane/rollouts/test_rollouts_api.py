"""The rollout endpoints as CI calls them: shapes, clear 400s, 403 without `deploy`, 404, 409."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.audit.models import AuditEvent
from controlplane.rollouts.models import Rollout
from controlplane.routing.models import Service
from controlplane.routing.selectors import revision_latest
from tests.controlplane.rollouts.builders import staged_service
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

BODY = {"model": "iris", "version": 2, "strategy": "canary", "steps": [10, 50, 100], "step_seconds": 30}


def url(service: Service, rest: str = "") -> str:
    return f"/api/v1/tenants/{service.tenant.slug}/services/{service.slug}/rollouts{rest}"


def test_start_answers_the_rollout_and_get_list_and_detail_show_it(client_for) -> None:  # noqa: ANN001
    service = staged_service()
    client = client_for(service.tenant)

    response = client.post(url(service), {**BODY, "analysis": {"min_agreement": 0.9}}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in ("model", "version", "strategy", "steps", "status", "step", "step_index", "reason",
                                 "revision", "baseline_revision", "actor")} == {
        "model": "iris", "version": 2, "strategy": "canary", "steps": [10, 50, 100], "status": "running",
        "step": 10, "step_index": 0, "reason": "", "revision": 2, "baseline_revision": 1, "actor": client.actor,
    }
    assert body["analysis"] == {"max_error_rate": 0.05, "max_timeout_rate": 0.05, "max_p99_ms": 200.0,
                                "min_agreement": 0.9, "min_requests": 20, "max_wait_seconds": None}
    assert body["baseline"]["model"] == "iris" and body["baseline"]["version"] == 1
    assert body["step_seconds"] == 30 and body["step_elapsed_s"] >= 0 and body["state"] == {}

    listed = client.get(url(service)).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == body["id"]
    detail = client.get(url(service, f"/{body['id']}"))
    assert detail.status_code == 200 and detail.json()["status"] == "running"
    assert AuditEvent.objects.filter(action="rollout.start", actor=client.actor).count() == 1


def test_pause_resume_abort(client_for) -> None:  # noqa: ANN001
    service = staged_service()
    client = client_for(service.tenant)
    rollout_id = client.post(url(service), BODY, format="json").json()["id"]

    assert client.post(url(service, f"/{rollout_id}/resume")).status_code == 409
    paused = client.post(url(service, f"/{rollout_id}/pause"))
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert client.post(url(service, f"/{rollout_id}/resume")).json()["status"] == "running"
    aborted = client.post(url(service, f"/{rollout_id}/abort"))
    assert aborted.status_code == 200
    assert aborted.json()["status"] == "aborted" and aborted.json()["reason"] == f"aborted by {client.actor}"
    again = client.post(url(service, f"/{rollout_id}/abort"))
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    actions = set(AuditEvent.objects.filter(actor=client.actor).values_list("action", flat=True))
    assert {"rollout.start", "rollout.pause", "rollout.resume", "rollout.abort"} <= actions


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"steps": [50, 10, 100]}, "steps", "steps must be strictly increasing"),
        ({"steps": [10, 50]}, "steps", "the last step must be 100 (the promotion)"),
        ({"steps": [0, 100]}, "steps", "greater than or equal to 1"),
        ({"steps": [10, 101]}, "steps", "less than or equal to 100"),
        ({"steps": []}, "steps", "give at least one step"),
        ({"step_seconds": 0}, "step_seconds", "must be above 0"),
        ({"step_seconds": -5}, "step_seconds", "must be above 0"),
        ({"strategy": "big-bang"}, "strategy", "is not a valid choice"),
        ({"strategy": "blue-green"}, "steps", "blue-green switches all traffic at once"),
        ({"analysis": {"max_error_rate": 2}}, "analysis", "less than or equal to 1"),
        ({"analysis": {"max_eror_rate": 0.1}}, "analysis", "unknown field"),
        ({"version": "two"}, "version", "A valid integer is required"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_invalid_bodies_get_clear_400s(client_for, changes: dict[str, Any], field: str, message: str) -> None:  # noqa: ANN001
    service = staged_service()
    response = client_for(service.tenant).post(url(service), {**BODY, **changes}, format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["error"] == "invalid" and message in str(body["detail"][field])
    assert not Rollout.objects.exists() and revision_latest(service=service).number == 1


def test_missing_fields_are_named(client_for) -> None:  # noqa: ANN001
    service = staged_service()
    response = client_for(service.tenant).post(url(service), {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["detail"]) == {"model", "version", "step_seconds"}


def test_unknown_version_is_400_like_promote_and_not_ready_is_409(client_for) -> None:  # noqa: ANN001
    service = staged_service(v3="validating")
    client = client_for(service.tenant)
    unknown = client.post(url(service), {**BODY, "version": 42}, format="json")
    assert unknown.status_code == 400 and "has no version 42" in unknown.json()["detail"]["version"]
    assert client.post(url(service), {**BODY, "model": "nope"}, format="json").status_code == 400
    not_ready = client.post(url(service), {**BODY, "version": 3}, format="json")
    assert not_ready.status_code == 409 and "iris v3 is validating" in not_ready.json()["detail"]


def test_one_active_rollout_per_service(client_for) -> None:  # noqa: ANN001
    service = staged_service()
    client = client_for(service.tenant)
    first = client.post(url(service), BODY, format="json").json()
    second = client.post(url(service), {**BODY, "version": 3}, format="json")
    assert second.status_code == 409 and f"rollout {first['id']} is running" in second.json()["detail"]


def test_scopes_and_tenants(client_for) -> None:  # noqa: ANN001
    service = staged_service()
    deployer = client_for(service.tenant)
    rollout_id = deployer.post(url(service), BODY, format="json").json()["id"]
    reader = client_for(service.tenant, scopes=("read",))

    refused = reader.post(url(service), {**BODY, "version": 3}, format="json")
    assert refused.status_code == 403 and refused.json() == {
        "error": "forbidden", "detail": "This token lacks the 'deploy' scope."
    }
    for action in ("pause", "resume", "abort"):
        assert reader.post(url(service, f"/{rollout_id}/{action}")).status_code == 403
    assert reader.get(url(service, f"/{rollout_id}")).status_code == 200

    other = client_for(TenantFactory())
    assert other.get(url(service, f"/{rollout_id}")).status_code == 403
    other_service = staged_service()
    elsewhere = client_for(other_service.tenant).get(url(other_service, f"/{rollout_id}"))
    assert elsewhere.status_code == 404 and elsewhere.json()["error"] == "not_found"
    assert deployer.post(url(service, "/999999/pause")).status_code == 404
