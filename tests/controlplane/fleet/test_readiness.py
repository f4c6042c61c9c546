"""The readiness verdict, with plain numbers: when a revision is live, pending, or bad enough to roll back."""

from __future__ import annotations

from contracts.roles import ROLES
from controlplane.fleet.readiness import DeploymentRef, RunnerView, readiness_verdict

SHA = "a" * 64
CHAMPION = DeploymentRef(model="iris", version=2, sha256=SHA, role="champion", pool="default")
FALLBACK = DeploymentRef(model="iris", version=1, sha256="b" * 64, role="fallback", pool="default")
SHADOW = DeploymentRef(model="iris", version=3, sha256="c" * 64, role="challenger", pool="default")


def runner(worker: str, applied: int | None, **states: tuple[str, str]) -> RunnerView:
    """``v2=("ready", "")`` → the state of iris v2 on this runner."""
    refs = {f"v{d.version}": d.key for d in (CHAMPION, FALLBACK, SHADOW)}
    return RunnerView(worker=worker, pool="default", applied_revision=applied,
                      versions={refs[name]: state for name, state in states.items()})


def verdict(runners, deployments=(CHAMPION, FALLBACK, SHADOW), now=105.0, published_at=100.0, timeout_s=60.0):  # noqa: ANN001, ANN201
    return readiness_verdict(revision=7, deployments=deployments, runners=runners, published_at=published_at,
                             now=now, timeout_s=timeout_s)


def test_ready_once_a_runner_that_applied_the_revision_holds_the_champion_and_the_fallback_is_usable() -> None:
    result = verdict([runner("r0", 7, v2=("ready", ""), v1=("idle", ""), v3=("loading", ""))])
    assert (result.state, result.reason) == ("ready", "")
    placement = result.placements[0]
    assert (placement.runners_live, placement.runners_applied, placement.runners_ready) == (1, 1, 1)


def test_one_ready_runner_is_enough_but_a_runner_still_on_an_older_revision_does_not_count() -> None:
    one_ready = [runner("r0", 6, v2=("ready", "")), runner("r1", 7, v2=("ready", ""), v1=("idle", ""))]
    assert verdict(one_ready).state == "ready"
    stale = verdict([runner("r0", 6, v2=("ready", "")), runner("r1", None)])
    assert stale.state == "pending" and "iris v2 (champion, pool default)" in stale.reason


def test_a_load_failure_reported_by_a_runner_fails_the_revision_at_once_with_its_error() -> None:
    result = verdict([runner("r0", 7, v2=("ready", "")), runner("r1", 7, v2=("failed", "model failed to load: 404"))],
                     now=100.5)
    assert result.state == "failed"
    assert result.reason == "iris v2 (champion, pool default) failed on runner r1: model failed to load: 404"
    assert result.placements[0].errors == {"r1": "model failed to load: 404"}


def test_a_failed_fallback_fails_too_but_a_failed_shadow_never_does() -> None:
    assert verdict([runner("r0", 7, v2=("ready", ""), v1=("failed", "boom"))]).state == "failed"
    assert verdict([runner("r0", 7, v2=("ready", ""), v1=("ready", ""), v3=("failed", "boom"))]).state == "ready"


def test_a_champion_still_loading_is_pending_until_the_time_limit_then_failed() -> None:
    runners = [runner("r0", 7, v2=("loading", ""))]
    assert verdict(runners, now=159.9).state == "pending"
    late = verdict(runners, now=160.0)
    assert late.state == "failed"
    assert late.reason == "iris v2 (champion, pool default) not ready on any live runner within 60 s (r0: loading)"


def test_a_champion_idle_is_not_enough_a_fallback_idle_is() -> None:
    assert verdict([runner("r0", 7, v2=("idle", ""), v1=("idle", ""))], now=200).state == "failed"
    assert verdict([runner("r0", 7, v2=("ready", ""), v1=("idle", ""))], now=200).state == "ready"


def test_runners_that_never_applied_the_revision_fail_it_after_the_time_limit() -> None:
    late = verdict([runner("r0", 6, v2=("ready", ""))], now=170)
    assert late.state == "failed" and late.reason.endswith("(no runner applied the revision)")


def test_a_pool_without_any_live_runner_is_never_judged() -> None:
    elsewhere = DeploymentRef(model="iris", version=2, sha256=SHA, role="champion", pool="gpu")
    result = verdict([runner("r0", 7)], deployments=(elsewhere,), now=10_000)
    assert (result.state, result.reason) == ("pending", "no live runner in pool gpu")


def test_only_champions_and_fallbacks_are_judged() -> None:
    for role in ROLES:
        deployment = DeploymentRef(model="iris", version=3, sha256="c" * 64, role=role, pool="default")
        result = verdict([runner("r0", 7, v3=("failed", "boom"))], deployments=(deployment,))
        assert result.state == ("failed" if role in ("champion", "fallback") else "ready"), role


def test_an_empty_routing_is_ready_and_an_unpublished_revision_never_times_out() -> None:
    assert verdict([], deployments=()).state == "ready"
    assert verdict([runner("r0", 7, v2=("loading", ""))], published_at=None, now=10_000).state == "pending"
