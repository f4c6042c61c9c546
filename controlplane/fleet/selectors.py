"""Reads of the fleet: which workers are live, what they applied, and whether a revision is live on them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from contracts.keys import VersionDigest
from contracts.topics import config_key
from controlplane.fleet.models import RevisionCheck, WorkerReport
from controlplane.fleet.readiness import DeploymentRef, RunnerView, Verdict, readiness_verdict
from controlplane.routing.models import ConfigRevision, Service


def live_since(now: datetime) -> datetime:
    """Reports sent before this are stale: their worker no longer counts."""
    return now - timedelta(seconds=settings.RDV_STATUS_STALE_S)


def deployments_of(revision: ConfigRevision) -> list[DeploymentRef]:
    return [
        DeploymentRef(model=d["model"], version=d["version"], sha256=d["sha256"], role=d["role"], pool=d["pool"])
        for d in revision.snapshot.get("deployments", [])
    ]


def applied_revision(report: WorkerReport, key: str) -> int | None:
    applied = report.revisions.get(key)
    return applied.get("revision") if isinstance(applied, dict) else None


@dataclass
class FleetView:
    """Every live worker's latest report, read once, to judge many revisions against."""

    reports: list[WorkerReport]
    # tenant → worker → version → (state, error)
    versions: dict[str, dict[str, dict[VersionDigest, tuple[str, str]]]]

    def runners(self, tenant: str, service: str) -> list[RunnerView]:
        key = config_key(tenant, service)
        by_worker = self.versions.get(tenant, {})
        return [
            RunnerView(
                worker=r.worker,
                pool=r.pool or "",
                applied_revision=applied_revision(r, key),
                versions=by_worker.get(r.worker, {}),
            )
            for r in self.reports
            if r.kind == "runner"
        ]

    def rendezvous(self) -> list[WorkerReport]:
        return [r for r in self.reports if r.kind == "rendezvous"]

    def verdict(self, revision: ConfigRevision, *, now: datetime) -> Verdict:
        service = revision.service
        published = revision.published_at
        return readiness_verdict(
            revision=revision.number,
            deployments=deployments_of(revision),
            runners=self.runners(service.tenant.slug, service.slug),
            published_at=published.timestamp() if published is not None else None,
            now=now.timestamp(),
            timeout_s=settings.RDV_READY_TIMEOUT_S,
        )


def fleet_view(*, now: datetime, tenant: str | None = None) -> FleetView:
    reports = list(WorkerReport.objects.filter(at__gte=live_since(now)).prefetch_related("placements"))
    versions: dict[str, dict[str, dict[VersionDigest, tuple[str, str]]]] = defaultdict(lambda: defaultdict(dict))
    for report in reports:
        for p in report.placements.all():
            if tenant is None or p.tenant == tenant:
                versions[p.tenant][report.worker][(p.model, p.version, p.sha256)] = (p.state, p.error)
    return FleetView(reports=reports, versions=versions)


def revisions_to_judge(*, exclude_actor: str) -> QuerySet[ConfigRevision]:
    """Each service's live (latest) revision, once published, while no verdict has been taken on it."""
    latest = ConfigRevision.objects.filter(service=OuterRef("service")).order_by("-number").values("number")[:1]
    return (
        ConfigRevision.objects.filter(
            number=Subquery(latest), readiness_check__isnull=True, published_at__isnull=False
        )
        .exclude(actor=exclude_actor)
        .select_related("service__tenant")
        .order_by("pk")
    )


def service_readiness(*, service: Service, revision: ConfigRevision, latest: ConfigRevision) -> dict[str, Any]:
    """What a CI pipeline polls after a routing change: is ``revision`` live everywhere, or rolled back, and why."""
    now = timezone.now()
    fleet = fleet_view(now=now, tenant=service.tenant.slug)
    verdict = fleet.verdict(revision, now=now)
    check = RevisionCheck.objects.filter(revision=revision).first()
    is_live = revision.pk == latest.pk
    if check is not None and check.state != RevisionCheck.State.READY:
        state, detail = check.state, check.reason
    elif not is_live:
        state, detail = ("ready" if check is not None else "superseded"), f"revision {latest.number} is live"
    else:
        state, detail = verdict.state, verdict.reason
    key = config_key(service.tenant.slug, service.slug)
    rendezvous = fleet.rendezvous()
    runners = [r for r in fleet.reports if r.kind == "runner"]
    applied = [r for r in fleet.reports if (applied_revision(r, key) or 0) >= revision.number]
    return {
        "revision": revision.number,
        "live": is_live,
        "state": state,
        "detail": detail,
        "rolled_back_by": check.rolled_back_by if check is not None else None,
        "published_at": revision.published_at,
        "timeout_s": settings.RDV_READY_TIMEOUT_S,
        "workers": {
            "live": len(fleet.reports),
            "applied": len(applied),
            "runners_live": len(runners),
            "rendezvous_live": len(rendezvous),
        },
        "deployments": [
            {
                "model": p.deployment.model,
                "version": p.deployment.version,
                "role": p.deployment.role,
                "pool": p.deployment.pool,
                "runners_live": p.runners_live,
                "runners_applied": p.runners_applied,
                "runners_ready": p.runners_ready,
                "runners_failed": p.runners_failed,
                "states": p.states,
                "errors": p.errors,
            }
            for p in verdict.placements
        ],
    }
