"""Celery tasks of rollouts: thin shells that take ids, lock, and call the services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from controlplane.rollouts.models import Rollout
from controlplane.rollouts.services import rollout_claim_release, rollout_step_analyse, rollouts_due_claim

log = logging.getLogger(__name__)


@shared_task(name="rollouts.analyse_due")
def rollouts_analyse_due() -> int:
    """Beat, every second or two: enqueue one analysis per running rollout that has none in flight."""
    ids = rollouts_due_claim()
    for rollout_id in ids:
        rollout_analyse.delay(rollout_id)
    return len(ids)


@shared_task(name="rollouts.analyse")
def rollout_analyse(rollout_id: int) -> None:
    """Analyse one rollout under its row lock; on failure release the claim so the next tick retries."""
    try:
        with transaction.atomic():
            rollout = (
                Rollout.objects.select_for_update(of=("self",))
                .select_related("version__model", "service__tenant")
                .filter(pk=rollout_id)
                .first()
            )
            if rollout is not None:
                rollout_step_analyse(rollout=rollout)
    except Exception:
        log.exception("analysis of rollout %s failed; the next tick retries", rollout_id)
        rollout_claim_release(rollout_id=rollout_id)
        raise
