"""A version may declare internal state: checked at upload (400 when unusable), carried to the runners."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts.state import RedisProvider
from controlplane.registry.models import Model
from controlplane.routing.selectors import config_snapshot_build
from tests.controlplane.conftest import IRIS_METADATA
from tests.factories import DeploymentFactory, ModelFactory

pytestmark = pytest.mark.django_db
STATE = {"type": "redis", "key": "user_key", "prefix": "f:", "fields": ["visits"], "default": {"visits": 0}}


def _upload(client, model: Model, path: Path, metadata: dict):  # noqa: ANN001, ANN202
    with path.open("rb") as handle:
        data = {"artifact": handle, "format": "skops", "metadata": json.dumps(metadata)}
        return client.post(
            f"/api/v1/tenants/{model.tenant.slug}/models/{model.slug}/versions", data, format="multipart"
        )


def test_a_version_with_internal_state_is_accepted_and_answered(client_for, iris_skops_path: Path) -> None:  # noqa: ANN001
    model = ModelFactory()

    response = _upload(client_for(model.tenant), model, iris_skops_path, {**IRIS_METADATA, "internal_state": STATE})

    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "ready" and response.json()["metadata"]["internal_state"] == STATE


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        ({**STATE, "type": "lookup"}, "internal_state.type: must be one of redis, not 'lookup'"),
        ({**STATE, "fields": []}, "internal_state.fields: needs at least one field"),
        ({**STATE, "default": {}}, "internal_state.default: needs a value (null allowed) for visits"),
        ({**STATE, "ttl": 5}, "internal_state: unknown field(s) ttl for type redis"),
        ("redis", "internal_state: must be an object with a `type`"),
    ],
)
def test_a_bad_internal_state_is_400_and_stores_nothing(
    client_for,
    iris_skops_path: Path,
    state: object,
    problem: str,  # noqa: ANN001
) -> None:
    model = ModelFactory()

    response = _upload(client_for(model.tenant), model, iris_skops_path, {**IRIS_METADATA, "internal_state": state})

    assert response.status_code == 400 and response.json()["error"] == "invalid"
    assert problem in response.json()["detail"]["metadata"]["internal_state"], response.json()
    assert not model.versions.exists()


def test_the_published_deployment_carries_the_versions_internal_state_and_only_its_own() -> None:
    stateful = DeploymentFactory(version__metadata={**IRIS_METADATA, "internal_state": STATE})
    plain = DeploymentFactory(service=stateful.service, role="challenger")

    snapshot = config_snapshot_build(service=stateful.service, revision=1)

    by_version = {(d.model, d.version): d for d in snapshot.deployments}
    stateful_spec = by_version[(stateful.version.model.slug, stateful.version.number)]
    assert stateful_spec.internal_state == RedisProvider(
        key="user_key", prefix="f:", fields=("visits",), default={"visits": 0}
    )
    assert by_version[(plain.version.model.slug, plain.version.number)].internal_state is None
