"""Writes for rollouts: start, pause, resume, abort, and the analysis that advances or rolls back a step.

Every routing change goes through ``controlplane.routing.services``, so each one is a ConfigRevision
published to rdv.config and audited there; each rollout write adds its own audit entry (action
``rollout.*``, target ``rollout:<service>/<id>``) naming its actor: the token for what a user asked,
``rollout:<id>`` for what the analysis decided.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from controlplane.audit.services import audit_record, fields_changed
from controlplane.errors import ConflictError, InvalidInput
from controlplane.registry.models import ModelVersion
from controlplane.rollouts.analysis import step_numbers, step_verdict, thresholds_resolve
from controlplane.rollouts.models import Rollout
from controlplane.rollouts.plans import (
    DEFAULT_STEPS,
    STRATEGIES,
    baseline_champion,
    plan_weights,
    step_label,
    steps_problem,
    table_for_step,
)
from controlplane.rollouts.selectors import rollout_active, step_window_candidates
from controlplane.routing.models import ConfigRevision, Service
from controlplane.routing.selectors import deployments_list, revision_latest
from controlplane.routing.services import deployment_promote, deployments_replace, routing_rollback
from controlplane.routing.tables import table_from_snapshot, tables_equal

# A claim older than this is assumed lost (a worker died mid-analysis) and the rollout is enqueued again.
CLAIM_STALE_AFTER = timedelta(seconds=30)
# An analysis that took longer than this (a big step window) waits this many times its own duration before the
# next one, so one busy rollout costs a worker at most a fifth of its time; a quick one runs every tick.
SLOW_ANALYSIS_S = 0.2
SLOW_ANALYSIS_SPACING = 4.0


def rollout_fields(rollout: Rollout) -> dict[str, Any]:
    """What the audit log records of a rollout: enough to read the history without the row."""
    return {
        "id": rollout.pk,
        "model": rollout.version.model.slug,
        "version": rollout.version.number,
        "strategy": rollout.strategy,
        "steps": rollout.steps,
        "step_seconds": rollout.step_seconds,
        "analysis": rollout.analysis,
        "status": rollout.status,
        "step": rollout.step_weight,
        "revision": rollout.step_revision,
        "baseline_revision": rollout.baseline_revision,
        "reason": rollout.reason,
    }


def _audit(rollout: Rollout, *, actor: str, action: str, diff: dict[str, Any]) -> None:
    audit_record(
        tenant=rollout.service.tenant,
        actor=actor,
        action=action,
        target=f"rollout:{rollout.service.slug}/{rollout.pk}",
        diff=diff,
    )


def step_elapsed(rollout: Rollout, *, now: datetime) -> float:
    """Seconds the current step has run; the clock stands still while the rollout is paused."""
    running = (now - rollout.step_resumed_at).total_seconds() if rollout.step_resumed_at else 0.0
    return rollout.step_elapsed_s + max(0.0, running)


@transaction.atomic
def rollout_start(
    *,
    service: Service,
    model: str,
    version: int,
    strategy: str = Rollout.Strategy.CANARY,
    steps: Sequence[int] | None = None,
    step_seconds: float,
    analysis: dict[str, Any] | None = None,
    actor: str,
    now: datetime | None = None,
) -> Rollout:
    """Start a rollout of ``model`` v``version`` and apply its first step.

    Unknown model or version → 400 (as promote); not ``ready`` → 409; another rollout running or paused on
    the service → 409; a service without a champion has nothing to compare with → 409 (promote instead).
    """
    now = now or timezone.now()
    if strategy not in STRATEGIES:
        raise InvalidInput({"strategy": f"choose one of {', '.join(STRATEGIES)}"})
    steps = list(steps) if steps is not None else list(DEFAULT_STEPS[strategy])
    problem = steps_problem(steps, strategy=strategy)
    if problem:
        raise InvalidInput({"steps": problem})
    if not step_seconds > 0:
        raise InvalidInput({"step_seconds": "must be above 0"})
    Service.objects.select_for_update().filter(pk=service.pk).first()
    target = (
        ModelVersion.objects.filter(model__tenant=service.tenant, model__slug=model, number=version)
        .select_related("model")
        .first()
    )
    if target is None:
        raise InvalidInput({"version": f"model {model!r} has no version {version} in tenant {service.tenant.slug!r}"})
    if target.status != ModelVersion.Status.READY:
        raise ConflictError(f"only ready versions can be rolled out: {model} v{version} is {target.status}")
    active = rollout_active(service=service)
    if active is not None:
        raise ConflictError(
            f"rollout {active.pk} is {active.status} on service {service.slug!r}: one at a time; abort it first"
        )
    baseline = deployments_list(service=service)
    champion = baseline_champion(baseline, candidate=(model, version))
    latest = revision_latest(service=service)
    if champion is None or latest is None:
        raise ConflictError(
            f"service {service.slug!r} has no other champion to compare {model} v{version} with: promote it instead"
        )
    rollout = Rollout(
        service=service,
        version=target,
        strategy=strategy,
        steps=steps,
        step_seconds=float(step_seconds),
        analysis=thresholds_resolve(analysis, deadline_ms=service.deadline_ms),
        step_started_at=now,
        step_revision=latest.number,
        step_resumed_at=now,
        baseline=baseline,
        baseline_revision=latest.number,
        baseline_model=champion["model"],
        baseline_version=champion["version"],
        actor=actor[:255],
    )
    try:
        with transaction.atomic():
            rollout.save()
    except IntegrityError as exc:  # the one-active constraint: a concurrent start won
        raise ConflictError(f"another rollout is already active on service {service.slug!r}") from exc
    _step_enter(rollout, index=0, now=now, actor=actor)
    if rollout.status == Rollout.Status.PROMOTED:
        rollout.reason = "promoted at once: the only step is 100"
        rollout.save(update_fields=["reason", "updated_at"])
    _audit(rollout, actor=actor, action="rollout.start", diff={"created": rollout_fields(rollout)})
    return rollout


def _step_enter(rollout: Rollout, *, index: int, now: datetime, actor: str) -> None:
    """Publish the routing of plan step ``index`` (100: promote) and restart the step clock."""
    service = rollout.service
    weight = plan_weights(strategy=rollout.strategy, steps=rollout.steps)[index]
    model, number = rollout.candidate
    if weight == 100:
        revision = deployment_promote(service=service, model=model, version=number, actor=actor)
        rollout.status = Rollout.Status.PROMOTED
        rollout.finished_at = now
        rollout.step_resumed_at = None
    else:
        table = table_for_step(baseline=rollout.baseline, candidate=(model, number), weight=weight)
        if tables_equal(table, deployments_list(service=service)):
            revision = revision_latest(service=service)
        else:
            revision = deployments_replace(service=service, deployments=table, actor=actor)
        rollout.step_resumed_at = now
    assert revision is not None  # the service has revisions: the rollout started from one
    rollout.step_index = index
    rollout.step_weight = weight
    rollout.step_started_at = now
    rollout.step_revision = revision.number
    rollout.step_elapsed_s = 0.0
    rollout.save()


def _restore_baseline(rollout: Rollout, *, actor: str) -> int | None:
    """Republish the routing the rollout started from; the new revision, or None if it is already live."""
    if tables_equal(deployments_list(service=rollout.service), rollout.baseline):
        return None
    new, _ = routing_rollback(service=rollout.service, revision=rollout.baseline_revision, actor=actor)
    return new.number


def _locked(rollout: Rollout) -> Rollout:
    return (
        Rollout.objects.select_for_update(of=("self",))
        .select_related("version__model", "service__tenant")
        .get(pk=rollout.pk)
    )


def _finish(rollout: Rollout, *, status: str, reason: str, now: datetime) -> None:
    rollout.status = status
    rollout.reason = reason
    rollout.finished_at = now
    rollout.step_elapsed_s = step_elapsed(rollout, now=now)
    rollout.step_resumed_at = None
    rollout.analysis_queued_at = None
    rollout.save()


@transaction.atomic
def rollout_pause(*, rollout: Rollout, actor: str, now: datetime | None = None) -> Rollout:
    """Freeze the step clock and the analysis; the routing of the step stays live."""
    now = now or timezone.now()
    rollout = _locked(rollout)
    if rollout.status != Rollout.Status.RUNNING:
        raise ConflictError(f"rollout {rollout.pk} is {rollout.status}: only a running rollout can be paused")
    rollout.step_elapsed_s = step_elapsed(rollout, now=now)
    rollout.step_resumed_at = None
    rollout.status = Rollout.Status.PAUSED
    rollout.save()
    _audit(
        rollout,
        actor=actor,
        action="rollout.pause",
        diff={"status": {"before": "running", "after": "paused"}, "step": rollout.step_weight,
              "elapsed_s": round(rollout.step_elapsed_s, 1)},
    )
    return rollout


@transaction.atomic
def rollout_resume(*, rollout: Rollout, actor: str, now: datetime | None = None) -> Rollout:
    """Restart the step clock where the pause left it."""
    now = now or timezone.now()
    rollout = _locked(rollout)
    if rollout.status != Rollout.Status.PAUSED:
        raise ConflictError(f"rollout {rollout.pk} is {rollout.status}: only a paused rollout can be resumed")
    rollout.step_resumed_at = now
    rollout.status = Rollout.Status.RUNNING
    rollout.save()
    _audit(
        rollout,
        actor=actor,
        action="rollout.resume",
        diff={"status": {"before": "paused", "after": "running"}, "step": rollout.step_weight},
    )
    return rollout


@transaction.atomic
def rollout_abort(*, rollout: Rollout, actor: str, now: datetime | None = None) -> Rollout:
    """Stop the rollout and republish the routing it started from."""
    now = now or timezone.now()
    rollout = _locked(rollout)
    if rollout.status not in Rollout.ACTIVE:
        raise ConflictError(f"rollout {rollout.pk} is already {rollout.status}")
    before = rollout_fields(rollout)
    restored = _restore_baseline(rollout, actor=actor)
    _finish(rollout, status=Rollout.Status.ABORTED, reason=f"aborted by {actor}", now=now)
    _audit(
        rollout,
        actor=actor,
        action="rollout.abort",
        diff={"changed": fields_changed(before, rollout_fields(rollout)), "restored_revision": restored},
    )
    return rollout


def _routing_drift(rollout: Rollout) -> str | None:
    """Why the live routing is no longer the rollout's (someone changed it by hand), or None."""
    applied = ConfigRevision.objects.filter(service=rollout.service, number=rollout.step_revision).first()
    expected = table_from_snapshot(snapshot=applied.snapshot) if applied else None
    if expected is not None and tables_equal(expected, deployments_list(service=rollout.service)):
        return None
    latest = revision_latest(service=rollout.service)
    by = f"revision {latest.number} by {latest.actor}" if latest else "no revision"
    return f"the routing was changed outside the rollout ({by}); stopped and left the routing as it is"


def rollout_step_analyse(*, rollout: Rollout, now: datetime | None = None) -> Rollout:
    """Judge the current step on the decisions of its window and act: roll back, advance, or keep going.

    The caller holds the rollout's row lock (the Celery task takes it with select_for_update), so two
    analyses of one rollout never act twice. A breach with enough requests rolls back at once; a healthy
    step advances after ``step_seconds``; the last step promotes. What was measured is kept in ``state``.
    """
    now = now or timezone.now()
    if rollout.status != Rollout.Status.RUNNING:
        if rollout.analysis_queued_at is not None:
            rollout.analysis_queued_at = None
            rollout.save(update_fields=["analysis_queued_at"])
        return rollout
    actor = rollout.actor_name
    drift = _routing_drift(rollout)
    if drift is not None:
        before = rollout_fields(rollout)
        _finish(rollout, status=Rollout.Status.ABORTED, reason=drift, now=now)
        changed = fields_changed(before, rollout_fields(rollout))
        _audit(rollout, actor=actor, action="rollout.abort", diff={"changed": changed})
        return rollout
    measuring = time.monotonic()
    numbers = step_numbers(
        step_window_candidates(
            service=rollout.service, since=rollout.step_started_at, min_revision=rollout.step_revision
        ),
        candidate=rollout.candidate,
        baseline=(rollout.baseline_model, rollout.baseline_version),
    )
    took_s = time.monotonic() - measuring
    rollout.analysis_due_at = (
        now + timedelta(seconds=SLOW_ANALYSIS_SPACING * took_s) if took_s > SLOW_ANALYSIS_S else None
    )
    elapsed = step_elapsed(rollout, now=now)
    verdict = step_verdict(
        numbers,
        rollout.analysis,
        elapsed_s=elapsed,
        step_seconds=rollout.step_seconds,
        step_label=step_label(strategy=rollout.strategy, weight=rollout.step_weight),
    )
    rollout.state = {
        "analysed_at": now.isoformat(),
        "step": rollout.step_weight,
        "elapsed_s": round(elapsed, 1),
        "numbers": numbers.as_dict(),
        "verdict": verdict.action,
        "note": verdict.reason,
    }
    rollout.analysis_queued_at = None
    if verdict.action == "rollback":
        before = rollout_fields(rollout)
        restored = _restore_baseline(rollout, actor=actor)
        _finish(rollout, status=Rollout.Status.ROLLED_BACK, reason=verdict.reason, now=now)
        _audit(
            rollout,
            actor=actor,
            action="rollout.rollback",
            diff={"changed": fields_changed(before, rollout_fields(rollout)), "numbers": numbers.as_dict(),
                  "restored_revision": restored},
        )
    elif verdict.action == "advance":
        before = rollout_fields(rollout)
        _step_enter(rollout, index=rollout.step_index + 1, now=now, actor=actor)
        promoted = rollout.status == Rollout.Status.PROMOTED
        if promoted:
            rollout.reason = f"promoted: {verdict.reason}"
            rollout.save(update_fields=["reason", "updated_at"])
        _audit(
            rollout,
            actor=actor,
            action="rollout.promote" if promoted else "rollout.step",
            diff={"changed": fields_changed(before, rollout_fields(rollout)), "numbers": numbers.as_dict()},
        )
    else:
        rollout.save(update_fields=["state", "analysis_queued_at", "analysis_due_at", "updated_at"])
    return rollout


def rollouts_due_claim(*, now: datetime | None = None) -> list[int]:
    """Mark the running rollouts with no analysis in flight (and due) as queued, and answer their ids.

    Rows locked by an analysis in progress are skipped; a claim older than ``CLAIM_STALE_AFTER`` counts as
    lost, so a worker that died mid-task delays its rollout by that much, never forever.
    """
    now = now or timezone.now()
    with transaction.atomic():
        due = (
            Rollout.objects.select_for_update(skip_locked=True)
            .filter(status=Rollout.Status.RUNNING)
            .filter(Q(analysis_queued_at__isnull=True) | Q(analysis_queued_at__lt=now - CLAIM_STALE_AFTER))
            .filter(Q(analysis_due_at__isnull=True) | Q(analysis_due_at__lte=now))
        )
        ids = list(due.values_list("pk", flat=True))
        if ids:
            Rollout.objects.filter(pk__in=ids).update(analysis_queued_at=now)
    return ids


def rollout_claim_release(*, rollout_id: int) -> None:
    """Forget a claim whose analysis failed, so the next tick tries again at once."""
    Rollout.objects.filter(pk=rollout_id).update(analysis_queued_at=None)
