"""The hosted set follows the config: scoring roles of this pool load in the background, once."""

from __future__ import annotations

import threading
import time

from contracts.config import DeploymentSpec, ServiceConfig
from model_runner.hosting import HostedModels
from model_runner.loading import LoadedModel, ModelLoadError


def _spec(model: str, role: str = "champion", pool: str = "default", fmt: str = "skops") -> DeploymentSpec:
    return DeploymentSpec(
        model=model, version=1, role=role, pool=pool, format=fmt, sha256="a" * 64, artifact_url="file:///x"
    )


def _config(*deployments: DeploymentSpec) -> dict[tuple[str, str], ServiceConfig]:
    config = ServiceConfig(
        tenant="acme", service="churn", revision=1, deadline_ms=100, partitions=4, deployments=deployments
    )
    return {("acme", "churn"): config}


class _Loader:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.gate = threading.Event()

    def __call__(self, spec: DeploymentSpec) -> LoadedModel:
        self.calls.append(spec.model)
        self.gate.wait(5)
        if spec.format == "joblib":
            raise ModelLoadError("needs a trusted pool")
        return object()  # type: ignore[return-value]


def _wait(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_only_scoring_roles_of_this_pool_are_hosted() -> None:
    loader = _Loader()
    loader.gate.set()
    hosting = HostedModels("default", loader)

    hosting.sync(
        _config(_spec("a"), _spec("d", role="decoy"), _spec("g", pool="gpu"), _spec("s", "challenger"))
    )

    assert [d.model for d in hosting.deployments("acme", "churn")] == ["a", "s"]
    _wait(lambda: len(loader.calls) == 2)
    assert sorted(loader.calls) == ["a", "s"]


def test_loading_runs_in_the_background_and_failures_are_recorded_once() -> None:
    loader = _Loader()
    hosting = HostedModels("default", loader)
    good, bad = _spec("good"), _spec("bad", role="fallback", fmt="joblib")

    hosting.sync(_config(good, bad))
    assert hosting.version("acme", good).state == "loading"
    loader.gate.set()
    _wait(lambda: {hosting.version("acme", s).state for s in (good, bad)} == {"ready", "failed"})
    hosting.sync(_config(good, bad))  # the same config again: nothing reloads

    assert hosting.version("acme", bad).error == "model failed to load: needs a trusted pool"
    assert sorted(loader.calls) == ["bad", "good"]


def test_versions_no_longer_deployed_are_unloaded() -> None:
    loader = _Loader()
    loader.gate.set()
    hosting = HostedModels("default", loader)
    old, new = _spec("old"), _spec("new")
    hosting.sync(_config(old))

    hosting.sync(_config(new))

    assert hosting.version("acme", old) is None
    assert hosting.version("acme", new) is not None
    hosting.sync({})
    assert hosting.routed_services() == {}
