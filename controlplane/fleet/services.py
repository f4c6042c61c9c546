"""Writes of the fleet app: storing worker reports, and the automatic fallback of revisions that fail to go live."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from contracts.codec import encode, to_builtins
from contracts.messages import WorkerStatus
from controlplane.audit.services import audit_record
from controlplane.errors import ConflictError
from controlplane.fleet.models import RevisionCheck, VersionPlacement, WorkerReport
from controlplane.fleet.selectors import fleet_view, revisions_to_judge
from controlplane.routing.models import ConfigRevision, Service
from controlplane.routing.selectors import revision_latest
from controlplane.routing.services import routing_rollback

log = logging.getLogger(__name__)

# The actor the audit log and the config history name for automatic rollbacks.
FALLBACK_ACTOR = "system:auto-fallback"


def worker_statuses_store(*, statuses: Sequence[WorkerStatus]) -> int:
    """Keep the newest report of each worker; answers how many workers' rows changed.

    A report older than the stored one (read late after a rebalance) is ignored. Placements are rewritten
    only when the reported versions changed, so a heartbeat costs one UPDATE.
    """
    newest: dict[str, WorkerStatus] = {}
    for status in statuses:
        kept = newest.get(status.worker)
        if kept is None or status.at >= kept.at:
            newest[status.worker] = status
    changed = 0
    with transaction.atomic():
        for status in newest.values():
            changed += _store(status)
    return changed


def _store(status: WorkerStatus) -> int:
    at = datetime.fromtimestamp(status.at, tz=UTC)
    digest = hashlib.sha256(encode(status.versions)).hexdigest()
    fields = {
        "kind": status.kind,
        "pool": status.pool,
        "at": at,
        "interval_s": status.interval_s,
        "revisions": to_builtins(status.revisions),
    }
    report = WorkerReport.objects.select_for_update().filter(worker=status.worker).first()
    if report is None:
        report = WorkerReport.objects.create(worker=status.worker, versions_digest=digest, **fields)
    elif report.at > at:
        return 0
    else:
        unchanged_versions = report.versions_digest == digest
        WorkerReport.objects.filter(pk=report.pk).update(versions_digest=digest, received_at=timezone.now(), **fields)
        if unchanged_versions:
            return 1
        report.placements.all().delete()
    VersionPlacement.objects.bulk_create(
        VersionPlacement(
            report=report,
            tenant=v.tenant,
            model=v.model,
            version=v.version,
            sha256=v.sha256.lower(),
            state=v.state[:16],
            error=v.error or "",
        )
        for v in status.versions
    )
    return 1


def worker_reports_expire(*, older_than: datetime) -> int:
    """Forget workers gone for good (their placements go with them)."""
    deleted, _ = WorkerReport.objects.filter(at__lt=older_than).delete()
    return deleted


@dataclass(frozen=True, slots=True)
class FallbackOutcome:
    service: str
    revision: int
    state: str
    reason: str
    rolled_back_by: int | None = None


def auto_fallback_run(*, now: datetime | None = None) -> list[FallbackOutcome]:
    """Judge every live revision not judged yet; roll back the ones that failed. Run every few seconds.

    A revision is judged once: ``ready`` and ``rolled back`` are both final, so a bad revision is rolled
    back exactly once and a revision that went live is never rolled back later by a runner restart.
    Revisions the fallback itself published are never judged: no ping-pong between two bad routings.
    """
    now = now or timezone.now()
    fleet = fleet_view(now=now)
    outcomes: list[FallbackOutcome] = []
    for revision in revisions_to_judge(exclude_actor=FALLBACK_ACTOR):
        verdict = fleet.verdict(revision, now=now)
        if verdict.state == "ready":
            RevisionCheck.objects.get_or_create(revision=revision, defaults={"state": RevisionCheck.State.READY})
            outcomes.append(FallbackOutcome(str(revision.service), revision.number, "ready", ""))
        elif verdict.state == "failed":
            check = revision_fall_back(revision=revision, reason=verdict.reason)
            if check is not None:
                outcomes.append(
                    FallbackOutcome(
                        str(revision.service), revision.number, check.state, check.reason, check.rolled_back_by
                    )
                )
    return outcomes


@transaction.atomic
def revision_fall_back(*, revision: ConfigRevision, reason: str) -> RevisionCheck | None:
    """Roll the service back from ``revision`` (still its live one) to the routing before it, recording why.

    Answers None when someone changed the routing meanwhile or another run judged it already.
    """
    service = Service.objects.select_for_update().select_related("tenant").get(pk=revision.service_id)
    latest = revision_latest(service=service)
    if latest is None or latest.pk != revision.pk or RevisionCheck.objects.filter(revision=revision).exists():
        return None
    note = f"automatic fallback: revision {revision.number} did not go live: {reason}"
    try:
        with transaction.atomic():
            new, source = routing_rollback(service=service, actor=FALLBACK_ACTOR, reason=note)
    except ConflictError as exc:
        stuck = f"{reason}; could not roll back: {exc.detail}"
        audit_record(
            tenant=service.tenant,
            actor=FALLBACK_ACTOR,
            action="service.fallback_failed",
            target=f"service:{service.slug}",
            diff={"revision": revision.number, "reason": stuck},
        )
        log.error("%s r%d: %s", service, revision.number, stuck)
        return RevisionCheck.objects.create(revision=revision, state=RevisionCheck.State.STUCK, reason=stuck)
    log.warning("%s: rolled back r%d to the routing of r%d as r%d: %s", service, revision.number, source.number,
                new.number, reason)
    return RevisionCheck.objects.create(
        revision=revision, state=RevisionCheck.State.ROLLED_BACK, reason=reason, rolled_back_by=new.number
    )


__all__ = [
    "FALLBACK_ACTOR",
    "FallbackOutcome",
    "auto_fallback_run",
    "revision_fall_back",
    "worker_reports_expire",
    "worker_statuses_store",
]
