"""Validation as a CI pipeline sees it: upload over HTTP → ``validating`` → a real Celery worker runs the
smoke test in a separate process with limits → ``ready``, or ``failed`` with a report, and a failed
version cannot be deployed (409). rdvctl's ``push --wait`` drives the same flow."""

from __future__ import annotations

import io
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from rdvctl.cli import EXIT_OK, EXIT_REFUSED
from rdvctl.cli import main as rdvctl_main
from tests.conftest import E2E_VALIDATION_LIMITS
from tests.controlplane.registry import artifacts
from tests.e2e.stack import GatewayThread, free_port

MEMORY_MB = E2E_VALIDATION_LIMITS["RDV_VALIDATION_MEMORY_MB"]
CPU_S = E2E_VALIDATION_LIMITS["RDV_VALIDATION_CPU_S"]


@dataclass
class Api:
    url: str
    tenant: str
    token: str
    service: str

    @property
    def base(self) -> str:
        return f"{self.url}/api/v1/tenants/{self.tenant}"

    def call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        return httpx.request(method, f"{self.base}{path}", headers={"Authorization": f"Bearer {self.token}"},
                             timeout=30, **kwargs)

    def upload(self, model: str, data: bytes, fmt: str, metadata: dict = artifacts.METADATA) -> httpx.Response:
        return self.call("POST", f"/models/{model}/versions", files={"artifact": (f"a.{fmt}", data)},
                         data={"format": fmt, "metadata": json.dumps(metadata)})

    def wait(self, model: str, number: int, timeout: float = 240.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            body = self.call("GET", f"/models/{model}/versions/{number}").json()
            if body["status"] not in ("registered", "validating") or time.monotonic() > deadline:
                return body
            time.sleep(0.5)


@pytest.fixture(scope="module")
def api(django_db_setup, django_db_blocker, kafka_bootstrap, celery_worker_process):  # noqa: ANN001, ANN201
    from controlplane.routing.services import service_create
    from controlplane.tenancy.services import tenant_create, token_create

    with django_db_blocker.unblock():
        tenant = tenant_create(slug=f"val-{uuid.uuid4().hex[:8]}", name="Validation")
        _, secret = token_create(tenant=tenant, name="ci", scopes=["read", "deploy"])
        service = service_create(tenant=tenant, slug="iris", name="Iris", input_schema={"type": "object"},
                                 deadline_ms=500)
        gateway = GatewayThread(free_port()).start()
        try:
            api = Api(gateway.url, tenant.slug, secret, service.slug)
            assert api.call("POST", "/models", json={"slug": "iris", "name": "Iris"}).status_code == 201
            yield api
        finally:
            gateway.stop()


CASES = {
    "good": (artifacts.iris_skops, "skops"),
    "broken": (lambda: artifacts.BROKEN_BYTES, "skops"),
    "untrusted": (artifacts.untrusted_type_skops, "skops"),
    "oversized": (artifacts.oversized_skops, "skops"),
    "spinning": (artifacts.spinning_onnx, "onnx"),
}


@pytest.fixture(scope="module")
def decided(api: Api) -> dict[str, dict]:
    """Every case uploaded at once (the worker validates two at a time), then each as the worker left it."""
    uploaded = {}
    for name, (build, fmt) in CASES.items():
        response = api.upload("iris", build(), fmt)
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "validating" and response.json()["validated_at"] is None
        uploaded[name] = response.json()["version"]
    return {name: api.wait("iris", number) for name, number in uploaded.items()}


def test_a_good_version_becomes_ready_and_deploys(api: Api, decided: dict[str, dict]) -> None:
    good = decided["good"]

    assert good["status"] == "ready", good["report"]
    assert "LogisticRegression" in good["report"] and "separate process" in good["report"]
    routing = api.call("PUT", f"/services/{api.service}/deployments",
                       json={"deployments": [{"model": "iris", "version": good["version"], "role": "champion"}]})
    assert routing.status_code == 200, routing.text


def test_a_broken_artifact_fails_with_a_report_and_cannot_be_deployed(api: Api, decided: dict[str, dict]) -> None:
    broken = decided["broken"]

    assert broken["status"] == "failed"
    assert "not a readable skops file" in broken["report"] and broken["validated_at"]
    staged = api.call("PUT", f"/services/{api.service}/deployments",
                      json={"deployments": [{"model": "iris", "version": broken["version"], "role": "champion"}]})
    promoted = api.call("POST", f"/services/{api.service}/promote", json={"model": "iris",
                                                                          "version": broken["version"]})
    assert staged.status_code == 409 and f"iris v{broken['version']} is failed" in staged.json()["detail"]
    assert promoted.status_code == 409 and "is failed" in promoted.json()["detail"]


def test_a_skops_file_with_an_untrusted_type_fails_listing_it(decided: dict[str, dict]) -> None:
    untrusted = decided["untrusted"]

    assert untrusted["status"] == "failed"
    assert "untrusted types tests.controlplane.registry.artifacts.HomeMadeClassifier" in untrusted["report"]


def test_a_load_above_the_memory_limit_fails_saying_so(decided: dict[str, dict]) -> None:
    oversized = decided["oversized"]

    assert oversized["status"] == "failed"
    assert f"memory limit: loading the artifact needed more than the {MEMORY_MB} MB" in oversized["report"]


def test_a_prediction_past_the_cpu_limit_fails_saying_so(decided: dict[str, dict]) -> None:
    spinning = decided["spinning"]

    assert spinning["status"] == "failed"
    assert spinning["report"].startswith(
        f"CPU limit: running the smoke prediction used more than {CPU_S} s of CPU time"
    )


def test_a_pickle_is_refused_at_upload(api: Api) -> None:
    response = api.upload("iris", b"\x80\x04K\x01.", "joblib")

    assert response.status_code == 400
    assert "only accepted from tenants the operator trusts" in response.json()["detail"]["format"]


def test_rdvctl_push_waits_for_the_worker(api: Api, tmp_path: Path) -> None:
    good, broken = tmp_path / "good.skops", tmp_path / "broken.skops"
    good.write_bytes(artifacts.iris_skops())
    broken.write_bytes(artifacts.BROKEN_BYTES)
    connection = ["--url", api.url, "--token", api.token, "--tenant", api.tenant]
    metadata = json.dumps(artifacts.METADATA)

    def push(path: Path) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = rdvctl_main([*connection, "push", "iris", str(path), "--format", "skops", "--metadata", metadata,
                            "--wait", "240"], out=out, err=err)
        return code, out.getvalue(), err.getvalue()

    ready_code, ready_out, ready_err = push(good)
    failed_code, failed_out, failed_err = push(broken)

    assert ready_code == EXIT_OK, ready_err
    assert json.loads(ready_out)["status"] == "ready" and ": validating (0 s)" in ready_err
    assert failed_code == EXIT_REFUSED and json.loads(failed_out)["status"] == "failed"
    assert "failed validation" in failed_err and "not a readable skops file" in failed_err
