"""The platform for end-to-end tests, started once per Kafka client: both backends are covered."""

from __future__ import annotations

import io
import os
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest
import skops.io
from django.conf import settings
from django.core.files.base import ContentFile
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from contracts.pool_tokens import pool_token
from tests.e2e.stack import GatewayThread, WorkerProcess, free_port
from tests.kafka_auth import worker_env

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
INPUT_SCHEMA = {
    "type": "object",
    "properties": {name: {"type": "number"} for name in FEATURES},
    "required": FEATURES,
    "additionalProperties": False,
}


@dataclass
class Platform:
    url: str
    tenant: str
    service: str
    token: str
    other_token: str
    models: dict[int, object]
    workers: list[WorkerProcess]
    client: str

    def predict_url(self, tenant: str | None = None, service: str | None = None) -> str:
        return f"{self.url}/api/v1/tenants/{tenant or self.tenant}/services/{service or self.service}/predict"

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def route(self, deployments: list[dict]) -> int:
        """Replace the routing table through the public API; returns the new revision."""
        response = httpx.put(
            f"{self.url}/api/v1/tenants/{self.tenant}/services/{self.service}/deployments",
            json={"deployments": deployments}, headers=self.auth(), timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()["revision"]


def version_wait(*, version_id: int, timeout: float = 180.0):  # noqa: ANN201
    """The version once the Celery worker has decided it (``ready`` or ``failed``)."""
    from controlplane.registry.models import ModelVersion

    deadline = time.monotonic() + timeout
    while True:
        version = ModelVersion.objects.get(pk=version_id)
        if version.status not in ("registered", "validating") or time.monotonic() > deadline:
            return version
        time.sleep(0.5)


CHAMPION_V1 = [
    {"model": "iris", "version": 1, "role": "champion", "weight": 100},
    {"model": "iris", "version": 2, "role": "challenger"},
]


def _train() -> dict[int, object]:
    data = load_iris()
    return {
        1: LogisticRegression(max_iter=500).fit(data.data, data.target),
        2: RandomForestClassifier(n_estimators=10, max_depth=2, random_state=0).fit(data.data, data.target),
    }


def _seed(models: dict[int, object]) -> tuple[str, str, str, str]:
    from controlplane.registry.services import model_create, version_create
    from controlplane.routing.services import deployments_replace, service_create
    from controlplane.tenancy.services import tenant_create, token_create

    tenant = tenant_create(slug=f"e2e-{uuid.uuid4().hex[:8]}", name="End to end")
    other = tenant_create(slug=f"other-{uuid.uuid4().hex[:8]}", name="Another tenant")
    _, secret = token_create(tenant=tenant, name="ci", scopes=["predict", "read", "deploy"])
    _, other_secret = token_create(tenant=other, name="ci", scopes=["predict", "read", "deploy"])
    model = model_create(tenant=tenant, slug="iris", name="Iris")
    versions = []
    for number, estimator in models.items():
        buffer = io.BytesIO()
        skops.io.dump(estimator, buffer)
        versions.append(version_create(
            model=model,
            artifact_file=ContentFile(buffer.getvalue(), name=f"iris-{number}.skops"),
            format="skops",
            metadata={"features": FEATURES, "example": dict(zip(FEATURES, [5.1, 3.5, 1.4, 0.2], strict=True))},
        ))
    for version in versions:  # validated by the Celery worker, as uploads are in production
        decided = version_wait(version_id=version.pk)
        assert decided.status == "ready", decided.report
    service = service_create(tenant=tenant, slug="iris", name="Iris", input_schema=INPUT_SCHEMA, deadline_ms=800)
    deployments_replace(service=service, deployments=CHAMPION_V1, actor="e2e")
    return tenant.slug, service.slug, secret, other_secret


@pytest.fixture(scope="package", params=["confluent", "kafka-python"])
def platform(request, django_db_setup, django_db_blocker, kafka_bootstrap, tmp_path_factory, celery_worker_process):
    from controlplane.gateway.replies import close_hub

    client = request.param
    port = free_port()
    previous = {k: os.environ.get(k) for k in ("RDV_KAFKA_CLIENT",)}
    os.environ["RDV_KAFKA_CLIENT"] = client
    close_hub()
    logs = tmp_path_factory.mktemp(f"e2e-{client}")
    with django_db_blocker.unblock():
        old_url = settings.RDV_PUBLIC_URL
        settings.RDV_PUBLIC_URL = f"http://127.0.0.1:{port}"
        gateway = GatewayThread(port).start()
        models = _train()
        tenant, service, token, other_token = _seed(models)
        env = {
            "RDV_KAFKA_CLIENT": client,
            "RDV_KAFKA_BOOTSTRAP": kafka_bootstrap,
            # The runner holds its pool's token only (DESIGN.md §6, *Artifact access*).
            "RDV_RUNNER_POOL": "default",
            "RDV_RUNNER_TOKEN": pool_token(secret=settings.RDV_RUNNER_SECRET, pool="default"),
            "RDV_PUBLIC_URL": settings.RDV_PUBLIC_URL,
            "RDV_ARTIFACT_CACHE": str(logs / "artifacts"),
            # Internal-state reads: generous on a loaded machine, so an answer is never taken for an outage.
            "RDV_STATE_REDIS_TIMEOUT_MS": "1000",
        }
        workers = [
            # Each worker as its own principal: the platform's ACLs must be enough for it.
            WorkerProcess("model_runner", {**env, **worker_env("runner")}, logs / "runner.log"),
            WorkerProcess("rendezvous_worker", {**env, **worker_env("rendezvous")}, logs / "rendezvous.log"),
        ]
        try:
            for worker in workers:
                worker.wait_ready()
            ready = httpx.get(f"{gateway.url}/readyz", timeout=30)
            assert ready.status_code == 200, ready.text
            yield Platform(gateway.url, tenant, service, token, other_token, models, workers, client)
        finally:
            for worker in workers:
                worker.stop()
            gateway.stop()
            close_hub()
            settings.RDV_PUBLIC_URL = old_url
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests reach the database only through the gateway, but the test database must exist:
    pytest-django creates it only for sessions that hold tests marked ``django_db``."""
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.django_db)
