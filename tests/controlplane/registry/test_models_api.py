"""Models and versions over HTTP: a CI pipeline uploads an artifact, then polls the version until it is decided."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.test import override_settings

from controlplane.audit.models import AuditEvent
from controlplane.registry.models import Model, ModelVersion
from controlplane.registry.validation import VALIDATE_TASK, version_validate
from controlplane.tenancy.models import Tenant
from tests.controlplane.conftest import IRIS_METADATA
from tests.factories import ModelFactory, ModelVersionFactory, TenantFactory

pytestmark = pytest.mark.django_db


def _models(tenant: Tenant) -> str:
    return f"/api/v1/tenants/{tenant.slug}/models"


def _versions(model: Model) -> str:
    return f"{_models(model.tenant)}/{model.slug}/versions"


def _upload(client, model: Model, path: Path, fmt: str = "skops", metadata: object = IRIS_METADATA):  # noqa: ANN001, ANN202
    with path.open("rb") as handle:
        data = {"artifact": handle, "format": fmt}
        if metadata is not None:
            data["metadata"] = metadata if isinstance(metadata, str) else json.dumps(metadata)
        return client.post(_versions(model), data, format="multipart")


def test_create_list_and_get_models(client_for) -> None:  # noqa: ANN001
    tenant = TenantFactory()
    client = client_for(tenant)

    created = client.post(_models(tenant), {"slug": "iris", "name": "Iris"}, format="json")
    ModelVersionFactory(model=Model.objects.get(slug="iris"))
    listed = client.get(_models(tenant))
    one = client.get(f"{_models(tenant)}/iris")

    assert created.status_code == 201
    assert created.json() == {
        "slug": "iris",
        "name": "Iris",
        "created_at": created.json()["created_at"],
        "latest_version": None,
    }
    assert listed.json()["count"] == 1 and listed.json()["results"][0]["latest_version"] == 1
    assert one.status_code == 200 and one.json()["slug"] == "iris"
    event = AuditEvent.objects.get(action="model.create")
    assert (event.actor, event.target, event.diff) == (
        client.actor,
        "model:iris",
        {"created": {"slug": "iris", "name": "Iris"}},
    )


def test_duplicate_model_is_409_unknown_is_404_bad_slug_is_400(client_for) -> None:  # noqa: ANN001
    model = ModelFactory()
    client = client_for(model.tenant)

    duplicate = client.post(_models(model.tenant), {"slug": model.slug, "name": "x"}, format="json")
    unknown = client.get(f"{_models(model.tenant)}/ghost")
    bad = client.post(_models(model.tenant), {"slug": "Not A Slug", "name": "x"}, format="json")

    assert duplicate.status_code == 409 and duplicate.json()["error"] == "conflict"
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    assert bad.status_code == 400 and "slug" in bad.json()["detail"]


def test_upload_answers_validating_and_the_version_shows_its_outcome(client_for, iris_skops_path: Path) -> None:  # noqa: ANN001
    model = ModelFactory()
    client = client_for(model.tenant)

    response = _upload(client, model, iris_skops_path)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"] == 1 and body["status"] == "validating" and body["validated_at"] is None
    assert body["sha256"] == hashlib.sha256(iris_skops_path.read_bytes()).hexdigest()
    assert (body["format"], body["metadata"]) == ("skops", IRIS_METADATA)
    assert client.get(f"{_versions(model)}/1").json() == body
    event = AuditEvent.objects.get(action="version.create")
    assert (event.actor, event.target) == (client.actor, f"version:{model.slug}/1")
    assert event.diff["created"]["sha256"] == body["sha256"]

    version_validate(version_id=ModelVersion.objects.get(model=model, number=1).pk)  # what the task runs

    done = client.get(f"{_versions(model)}/1").json()
    assert done["status"] == "ready" and "smoke prediction" in done["report"] and done["validated_at"]


def test_upload_queues_the_validation_task_on_the_validation_queue(
    client_for, iris_skops_path: Path, django_capture_on_commit_callbacks  # noqa: ANN001
) -> None:
    """Its own queue (a Redis list of that name), which only the validation worker consumes."""
    model = ModelFactory()
    queue = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client_for(model.tenant), model, iris_skops_path)

    version_id = ModelVersion.objects.get(model=model, number=response.json()["version"]).pk

    def mine(name: str) -> list[bytes]:
        return [raw for raw in queue.lrange(name, 0, -1) if json.loads(raw)["headers"]["task"] == VALIDATE_TASK
                and json.loads(raw)["headers"]["argsrepr"] == f"[{version_id}]"]

    on_validation, on_default = mine(settings.RDV_VALIDATION_QUEUE), mine("celery")
    for name, raws in ((settings.RDV_VALIDATION_QUEUE, on_validation), ("celery", on_default)):
        for raw in raws:  # leave the shared queues as they were
            queue.lrem(name, 1, raw)
    assert settings.RDV_VALIDATION_QUEUE == "validation"
    assert len(on_validation) == 1 and on_default == []


def test_a_failing_version_is_still_201_and_ends_failed_with_a_report(client_for, tmp_path: Path) -> None:  # noqa: ANN001
    model = ModelFactory()
    client = client_for(model.tenant)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07garbage")

    response = _upload(client, model, garbage, fmt="onnx")
    version_validate(version_id=ModelVersion.objects.get(model=model).pk)

    assert response.status_code == 201 and response.json()["status"] == "validating"
    body = client.get(f"{_versions(model)}/1").json()
    assert body["status"] == "failed" and "onnx load failed" in body["report"]


@pytest.mark.parametrize("fmt", ["joblib", "pickle", "python"])
def test_a_code_format_from_an_untrusted_tenant_is_400(client_for, iris_skops_path: Path, fmt: str) -> None:  # noqa: ANN001
    model = ModelFactory()

    response = _upload(client_for(model.tenant), model, iris_skops_path, fmt=fmt)

    assert response.status_code == 400 and response.json()["error"] == "invalid"
    assert "only accepted from tenants the operator trusts" in response.json()["detail"]["format"]
    assert "skops" in response.json()["detail"]["format"]
    assert not ModelVersion.objects.exists()


@pytest.mark.parametrize(
    ("fmt", "metadata", "field"),
    [
        ("pt", IRIS_METADATA, "format"),
        ("skops", "{not json", "metadata"),
        ("skops", "[1]", "metadata"),
        ("skops", {"features": "x"}, "metadata"),
    ],
)
def test_bad_format_or_metadata_is_400(
    client_for, iris_skops_path: Path, fmt: str, metadata: object, field: str
) -> None:  # noqa: ANN001, E501
    model = ModelFactory()

    response = _upload(client_for(model.tenant), model, iris_skops_path, fmt=fmt, metadata=metadata)

    assert response.status_code == 400 and field in str(response.json()["detail"])
    assert not ModelVersion.objects.exists()


def test_missing_artifact_is_400_and_json_body_is_415(client_for) -> None:  # noqa: ANN001
    model = ModelFactory()
    client = client_for(model.tenant)

    missing = client.post(_versions(model), {"format": "skops"}, format="multipart")
    as_json = client.post(_versions(model), {"format": "skops"}, format="json")

    assert missing.status_code == 400 and "artifact" in missing.json()["detail"]
    assert as_json.status_code == 415 and as_json.json()["error"] == "unsupported_media_type"


@override_settings(RDV_ARTIFACT_MAX_BYTES=100)
def test_an_artifact_above_the_limit_is_413(client_for, iris_skops_path: Path) -> None:  # noqa: ANN001
    model = ModelFactory()

    response = _upload(client_for(model.tenant), model, iris_skops_path)

    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert not ModelVersion.objects.exists()


def test_versions_list_newest_first_and_unknown_version_is_404(client_for) -> None:  # noqa: ANN001
    model = ModelFactory()
    ModelVersionFactory(model=model)
    ModelVersionFactory(model=model, status=ModelVersion.Status.FAILED)
    client = client_for(model.tenant, scopes=("read",))

    listed = client.get(_versions(model))
    unknown = client.get(f"{_versions(model)}/9")
    other_model = client.get(f"{_models(model.tenant)}/ghost/versions")

    assert [v["version"] for v in listed.json()["results"]] == [2, 1]
    assert listed.json()["results"][0]["status"] == "failed"
    assert unknown.status_code == 404 and "no version 9" in unknown.json()["detail"]
    assert other_model.status_code == 404


def test_uploading_needs_deploy_and_the_right_tenant(client_for, iris_skops_path: Path) -> None:  # noqa: ANN001
    model = ModelFactory()

    reader = _upload(client_for(model.tenant, scopes=("read",)), model, iris_skops_path)
    stranger = _upload(client_for(TenantFactory()), model, iris_skops_path)

    assert reader.status_code == 403 and "deploy" in reader.json()["detail"]
    assert stranger.status_code == 403
    assert not ModelVersion.objects.exists()
