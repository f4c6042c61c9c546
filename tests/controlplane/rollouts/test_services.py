"""Rollout services on the real database: steps, automatic promotion and rollback, pause, abort, audit.

Decision records are stored as the decisions consumer stores them; time is passed in explicitly so the
step clock is exercised without sleeping.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from controlplane.audit.models import AuditEvent
from controlplane.errors import ConflictError, InvalidInput
from controlplane.rollouts.models import Rollout
from controlplane.rollouts.services import (
    rollout_abort,
    rollout_pause,
    rollout_resume,
    rollout_start,
    rollout_step_analyse,
    rollouts_due_claim,
)
from controlplane.rollouts.tasks import rollout_analyse
from controlplane.routing.models import ConfigRevision, Service
from controlplane.routing.selectors import deployments_list, revision_latest
from controlplane.routing.services import deployments_replace
from tests.controlplane.rollouts.builders import STAGED, candidate_scores, staged_service

pytestmark = pytest.mark.django_db

USER = "token:ci (rdv_abc)"


def table(service: Service) -> list[tuple[int, str, int, int]]:
    return [(r["version"], r["role"], r["weight"], r["rank"]) for r in deployments_list(service=service)]


def start(service: Service, **fields) -> Rollout:  # noqa: ANN003
    values = {"model": "iris", "version": 2, "strategy": "canary", "steps": [10, 50, 100], "step_seconds": 30,
              "analysis": {"min_requests": 20}}
    return rollout_start(service=service, actor=USER, **{**values, **fields})


def analyse(rollout: Rollout, seconds: float) -> Rollout:
    rollout_step_analyse(rollout=rollout, now=rollout.step_started_at + timedelta(seconds=seconds))
    rollout.refresh_from_db()
    return rollout


def test_a_healthy_canary_steps_through_10_50_100_and_is_promoted() -> None:
    service = staged_service()
    rollout = start(service)
    assert (rollout.status, rollout.step_weight, rollout.step_revision) == ("running", 10, 2)
    assert table(service) == [(1, "champion", 90, 0), (2, "champion", 10, 0)]
    assert ConfigRevision.objects.get(service=service, number=2).actor == USER

    candidate_scores(service, 30, revision=2, at=rollout.step_started_at.timestamp() + 1)
    rollout = analyse(rollout, 10)
    assert rollout.step_weight == 10 and rollout.state["verdict"] == "hold"
    assert rollout.state["numbers"]["requests"] == 30 and rollout.state["numbers"]["agreement"] == 1.0

    rollout = analyse(rollout, 31)
    assert (rollout.status, rollout.step_weight, rollout.step_revision) == ("running", 50, 3)
    assert table(service) == [(1, "champion", 50, 0), (2, "champion", 50, 0)]
    assert ConfigRevision.objects.get(service=service, number=3).actor == f"rollout:{rollout.pk}"

    # The new step judges only its own window: without new decisions it waits once its time is up.
    rollout = analyse(rollout, 31)
    assert rollout.state["verdict"] == "wait" and rollout.state["note"].startswith("waiting for traffic: 0 of 20")
    candidate_scores(service, 25, revision=3, at=rollout.step_started_at.timestamp() + 1)
    rollout = analyse(rollout, 32)
    assert rollout.status == "promoted" and rollout.step_weight == 100 and rollout.finished_at is not None
    assert rollout.reason == "promoted: healthy over 25 requests at step 50%"
    assert table(service) == [(2, "champion", 100, 0), (1, "fallback", 50, 1)]

    actions = list(AuditEvent.objects.filter(target=f"rollout:{service.slug}/{rollout.pk}")
                   .order_by("pk").values_list("action", "actor"))
    automatic = f"rollout:{rollout.pk}"
    assert actions == [("rollout.start", USER), ("rollout.step", automatic), ("rollout.promote", automatic)]
    step = AuditEvent.objects.get(action="rollout.step")
    assert step.diff["changed"]["step"] == {"before": 10, "after": 50} and step.diff["numbers"]["requests"] == 30
    promote = AuditEvent.objects.get(action="service.promote")
    assert promote.actor == automatic and [r["version"] for r in promote.diff["after"]] == [2, 1]


def test_errors_on_live_traffic_roll_back_at_once_with_the_numbers_in_the_reason() -> None:
    service = staged_service()
    rollout = start(service)
    at = rollout.step_started_at.timestamp() + 1
    candidate_scores(service, 9, revision=2, at=at)
    candidate_scores(service, 21, revision=2, status="error", at=at)

    rollout = analyse(rollout, 3)  # well before the step's 30 s

    assert rollout.status == "rolled_back" and rollout.finished_at is not None
    assert rollout.reason == "error rate 0.70 > 0.05 over 30 requests at step 10%"
    assert table(service) == [(1, "champion", 100, 0), (2, "challenger", 100, 0)]
    latest = revision_latest(service=service)
    assert latest.number == 3 and latest.actor == f"rollout:{rollout.pk}"
    event = AuditEvent.objects.get(action="rollout.rollback")
    assert event.actor == f"rollout:{rollout.pk}" and event.diff["restored_revision"] == 3
    assert event.diff["changed"]["status"] == {"before": "running", "after": "rolled_back"}
    assert event.diff["numbers"]["errors"] == 21
    assert AuditEvent.objects.get(action="service.rollback").diff["restored_from"] == 1


def test_decisions_of_an_earlier_revision_or_before_the_step_do_not_count() -> None:
    service = staged_service()
    rollout = start(service)
    candidate_scores(service, 30, revision=1, status="error", at=rollout.step_started_at.timestamp() + 1)
    candidate_scores(service, 30, revision=2, status="error", at=rollout.step_started_at.timestamp() - 1)
    rollout = analyse(rollout, 40)
    assert rollout.status == "running" and rollout.state["numbers"]["requests"] == 0


def test_too_little_traffic_waits_then_rolls_back_after_the_max_wait() -> None:
    service = staged_service()
    rollout = start(service, analysis={"min_requests": 20, "max_wait_seconds": 60})
    candidate_scores(service, 5, revision=2, at=rollout.step_started_at.timestamp() + 1)
    rollout = analyse(rollout, 80)
    assert rollout.status == "running" and rollout.state["verdict"] == "wait"
    assert rollout.state["note"] == "waiting for traffic: 5 of 20 requests at step 10%"
    rollout = analyse(rollout, 95)
    assert rollout.status == "rolled_back"
    assert rollout.reason == "not enough traffic: 5 of 20 requests after 95 s at step 10%"
    assert table(service) == [(1, "champion", 100, 0), (2, "challenger", 100, 0)]


def test_pause_freezes_the_step_clock_and_resume_continues_it() -> None:
    service = staged_service()
    rollout = start(service)
    t0 = rollout.step_started_at
    candidate_scores(service, 30, revision=2, at=t0.timestamp() + 1)
    rollout = rollout_pause(rollout=rollout, actor=USER, now=t0 + timedelta(seconds=10))
    assert rollout.status == "paused" and rollout.step_elapsed_s == pytest.approx(10)

    rollout_step_analyse(rollout=rollout, now=t0 + timedelta(seconds=100))  # paused: nothing happens
    rollout.refresh_from_db()
    assert rollout.status == "paused" and rollout.step_weight == 10 and rollout.state == {}
    with pytest.raises(ConflictError):
        rollout_pause(rollout=rollout, actor=USER)

    rollout = rollout_resume(rollout=rollout, actor=USER, now=t0 + timedelta(seconds=100))
    rollout_step_analyse(rollout=rollout, now=t0 + timedelta(seconds=115))
    rollout.refresh_from_db()
    assert rollout.step_weight == 10 and rollout.state["verdict"] == "hold" and rollout.state["elapsed_s"] == 25
    rollout_step_analyse(rollout=rollout, now=t0 + timedelta(seconds=121))
    rollout.refresh_from_db()
    assert rollout.step_weight == 50
    assert list(AuditEvent.objects.filter(action__in=["rollout.pause", "rollout.resume"])
                .order_by("pk").values_list("action", "actor")) == [("rollout.pause", USER), ("rollout.resume", USER)]
    with pytest.raises(ConflictError):
        rollout_resume(rollout=rollout, actor=USER)


def test_abort_restores_the_baseline_and_frees_the_service_for_another_rollout() -> None:
    service = staged_service()
    rollout = start(service)
    with pytest.raises(ConflictError, match=f"rollout {rollout.pk} is running"):
        start(service, version=3)

    rollout = rollout_abort(rollout=rollout, actor=USER)

    assert rollout.status == "aborted" and rollout.reason == f"aborted by {USER}"
    assert table(service) == [(1, "champion", 100, 0), (2, "challenger", 100, 0)]
    event = AuditEvent.objects.get(action="rollout.abort")
    assert event.actor == USER and event.diff["changed"]["status"] == {"before": "running", "after": "aborted"}
    assert revision_latest(service=service).actor == USER
    with pytest.raises(ConflictError, match="already aborted"):
        rollout_abort(rollout=rollout, actor=USER)
    assert start(service, version=3).status == "running"


def test_blue_green_shadows_the_candidate_then_switches() -> None:
    service = staged_service()
    rollout = start(service, strategy="blue-green", steps=None)
    # v2 is already the challenger: the shadow step needs no new revision.
    assert (rollout.steps, rollout.step_weight, rollout.step_revision) == ([100], 0, 1)
    candidate_scores(service, 25, revision=1, at=rollout.step_started_at.timestamp() + 1)
    assert analyse(rollout, 5).state["note"] == "holding the shadow step: 5 of 30 s, 25 requests"
    rollout = analyse(rollout, 30)
    assert rollout.status == "promoted" and rollout.reason == "promoted: healthy over 25 requests at the shadow step"
    assert table(service) == [(2, "champion", 100, 0), (1, "fallback", 100, 1)]


def test_a_routing_change_by_hand_stops_the_rollout_and_leaves_the_routing_alone() -> None:
    service = staged_service()
    rollout = start(service)
    deployments_replace(service=service, deployments=STAGED, actor="someone")
    rollout = analyse(rollout, 1)
    assert rollout.status == "aborted"
    assert rollout.reason.startswith("the routing was changed outside the rollout (revision 3 by someone)")
    assert revision_latest(service=service).number == 3


def test_what_cannot_start() -> None:
    service = staged_service(v3="failed")
    with pytest.raises(ConflictError, match="iris v3 is failed"):
        start(service, version=3)
    with pytest.raises(InvalidInput):
        start(service, version=9)
    with pytest.raises(InvalidInput):
        start(service, steps=[50, 10, 100])
    with pytest.raises(ConflictError, match="no other champion"):
        start(service, version=1)
    assert not Rollout.objects.exists() and revision_latest(service=service).number == 1


def test_the_tick_claims_each_running_rollout_once_and_the_task_analyses_it() -> None:
    service = staged_service()
    rollout = start(service, step_seconds=0.001)
    candidate_scores(service, 25, revision=2, at=rollout.step_started_at.timestamp() + 0.0005)

    assert rollouts_due_claim() == [rollout.pk]
    assert rollouts_due_claim() == []  # in flight: not enqueued twice
    assert rollouts_due_claim(now=timezone.now() + timedelta(minutes=1)) == [rollout.pk]  # a lost claim

    rollout_analyse.apply(args=[rollout.pk]).get()
    rollout.refresh_from_db()
    assert rollout.step_weight == 50 and rollout.analysis_queued_at is None

    # A slow analysis (a big window) spaces the next one out.
    Rollout.objects.filter(pk=rollout.pk).update(analysis_due_at=timezone.now() + timedelta(seconds=5))
    assert rollouts_due_claim() == []
    assert rollouts_due_claim(now=timezone.now() + timedelta(seconds=6)) == [rollout.pk]
