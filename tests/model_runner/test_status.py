"""A runner reports each routed version once, with the state hosting gives it (``idle`` when not hosted)."""

from __future__ import annotations

import time

from contracts.config import DeploymentSpec, ServiceConfig
from model_runner.hosting import HostedModels
from model_runner.loading import LoadedModel, ModelLoadError
from model_runner.status import hosted_versions


def _spec(model: str, role: str = "champion", fmt: str = "skops", sha: str = "a") -> DeploymentSpec:
    return DeploymentSpec(
        model=model, version=1, role=role, format=fmt, sha256=sha * 64, artifact_url="file:///nowhere"
    )


def _loader(spec: DeploymentSpec) -> LoadedModel:
    if spec.format == "joblib":
        raise ModelLoadError("pickle needs a trusted pool")
    return object()  # type: ignore[return-value]


def test_versions_are_reported_once_each_with_their_state_and_error() -> None:
    hosting = HostedModels("default", _loader)
    shared = _spec("shared")
    services = {
        ("acme", "a"): ServiceConfig(
            tenant="acme", service="a", revision=1, deadline_ms=100, partitions=1,
            deployments=(shared, _spec("bad", "fallback", fmt="joblib", sha="b"), _spec("d", "decoy", sha="c")),
        ),
        ("acme", "b"): ServiceConfig(
            tenant="acme", service="b", revision=2, deadline_ms=100, partitions=1, deployments=(shared,)
        ),
    }
    hosting.sync(services)
    deadline = time.monotonic() + 5
    while any(v.state == "loading" for v in hosted_versions(hosting)):
        assert time.monotonic() < deadline
        time.sleep(0.01)

    reported = {(v.model, v.state): v for v in hosted_versions(hosting)}

    # The decoy never scores, so it is not hosted; the version shared by two services appears once.
    assert sorted(reported) == [("bad", "failed"), ("shared", "ready")]
    assert "trusted pool" in (reported[("bad", "failed")].error or "")
    assert reported[("shared", "ready")].tenant == "acme" and reported[("shared", "ready")].sha256 == "a" * 64
    hosting.close()
