"""The hosted set follows the config: champions load with it, other versions on their first request,
in the background, once; over the memory budget the least recently used non-champions are evicted."""

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
    _wait(lambda: len(loader.calls) == 1)
    assert loader.calls == ["a"], "a challenger is not preloaded"
    hosting.acquire("acme", _spec("s", "challenger"))
    _wait(lambda: len(loader.calls) == 2)
    assert sorted(loader.calls) == ["a", "s"]
    assert hosting.acquire("acme", _spec("g", pool="gpu")) is None


def test_loading_runs_in_the_background_and_failures_are_recorded_once() -> None:
    loader = _Loader()
    hosting = HostedModels("default", loader)
    good, bad = _spec("good"), _spec("bad", role="challenger", fmt="joblib")

    hosting.sync(_config(good, bad))
    assert hosting.version("acme", good).state == "loading"
    assert hosting.version("acme", bad).state == "unloaded", "a challenger loads on its first request"
    hosting.acquire("acme", bad)
    loader.gate.set()
    _wait(lambda: {hosting.version("acme", s).state for s in (good, bad)} == {"ready", "failed"})
    hosting.sync(_config(good, bad))  # the same config again: nothing reloads
    hosting.acquire("acme", bad)  # nor does a request for the failed version

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


class _Sized:
    """A loaded model of a known size: the version number in kilobytes."""

    def __init__(self, kilobytes: int) -> None:
        self.weights = bytes(kilobytes * 1024)


def _sized_loader(calls: list[tuple[str, int]]):  # type: ignore[no-untyped-def]
    def load(spec: DeploymentSpec) -> LoadedModel:
        calls.append((spec.model, spec.version))
        return _Sized(spec.version)  # type: ignore[return-value]

    return load


def _versioned(model: str, version: int, role: str = "challenger") -> DeploymentSpec:
    return DeploymentSpec(
        model=model, version=version, role=role, format="skops", sha256="c" * 64, artifact_url="file:///x"
    )


def test_over_the_budget_the_least_recently_used_challenger_is_evicted_and_reloads_on_demand() -> None:
    calls: list[tuple[str, int]] = []
    hosting = HostedModels("default", _sized_loader(calls), memory_budget_bytes=700 * 1024)
    champion, old, recent, newest = (
        _versioned("champ", 400, "champion"),
        _versioned("old", 100),
        _versioned("recent", 150),
        _versioned("newest", 120),
    )
    hosting.sync(_config(champion, old, recent, newest))
    _wait(lambda: hosting.version("acme", champion).state == "ready")
    for spec in (old, recent):
        hosting.acquire("acme", spec)
        _wait(lambda spec=spec: hosting.version("acme", spec).state == "ready")  # type: ignore[misc]
        hosting.acquire("acme", spec)  # the waiting request is served
    assert hosting.version("acme", old).resident_bytes >= 100 * 1024, "the resident size is measured"
    assert hosting.version("acme", old).load_ms > 0

    hosting.acquire("acme", recent)  # used again: now "old" is the least recently used
    hosting.acquire("acme", newest)  # 400 + 100 + 150 + 120 KB > 700 KB: one must go
    _wait(lambda: hosting.version("acme", newest).state == "ready")

    assert hosting.version("acme", old).state == "unloaded" and hosting.version("acme", old).model is None
    assert {s.model for s in (champion, recent, newest) if hosting.version("acme", s).model} == {
        "champ",
        "recent",
        "newest",
    }
    assert hosting.resident_bytes() <= 700 * 1024 and hosting.evictions == 1

    hosting.acquire("acme", old)  # evicted versions load again on demand
    _wait(lambda: hosting.version("acme", old).state == "ready")
    assert calls.count(("old", 100)) == 2 and hosting.version("acme", old).loads == 2
    assert hosting.version("acme", champion).model is not None, "champions are never evicted"


def test_a_version_loaded_for_waiting_requests_is_not_evicted_before_they_are_served() -> None:
    calls: list[tuple[str, int]] = []
    hosting = HostedModels("default", _sized_loader(calls), memory_budget_bytes=150 * 1024)
    first, second = _versioned("first", 100), _versioned("second", 100)
    hosting.sync(_config(first, second))

    hosting.acquire("acme", first)
    _wait(lambda: hosting.version("acme", first).state == "ready")
    hosting.acquire("acme", second)  # over the budget, but "first" has not served its requests yet
    _wait(lambda: hosting.version("acme", second).state == "ready")

    assert hosting.version("acme", first).model is not None and hosting.evictions == 0
    hosting.acquire("acme", second)  # "second" serves its requests; "first"'s still wait: both stay
    assert hosting.evictions == 0
    hosting.acquire("acme", first)  # all served: now the budget is enforced
    assert hosting.evictions == 1 and hosting.version("acme", second).model is None
    assert hosting.version("acme", first).model is not None


def test_every_version_that_may_answer_is_preloaded_and_pinned() -> None:
    calls: list[tuple[str, int]] = []
    hosting = HostedModels("default", _sized_loader(calls), memory_budget_bytes=1024)
    answering = (_versioned("champ", 1, "champion"), _versioned("fb", 2, "fallback"), _versioned("can", 3, "canary"))
    shadow = _versioned("shadow", 4)

    hosting.sync(_config(*answering, shadow))
    _wait(lambda: all(hosting.version("acme", s).state == "ready" for s in answering))

    assert sorted(calls) == [("can", 3), ("champ", 1), ("fb", 2)]
    assert hosting.version("acme", shadow).state == "unloaded"
    hosting.acquire("acme", shadow)
    _wait(lambda: hosting.version("acme", shadow).state == "ready")
    hosting.acquire("acme", shadow)
    hosting.acquire("acme", _versioned("other", 5))  # not deployed: nothing to load
    assert all(hosting.version("acme", s).model is not None for s in answering), "over budget, yet all stay"
