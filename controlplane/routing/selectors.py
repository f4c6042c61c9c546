"""Reads of services and routing, including the snapshot that workers receive."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from contracts.config import DeploymentSpec, ServiceConfig
from contracts.roles import ROLES
from controlplane.errors import NotFound
from controlplane.registry.access import artifact_grant_url
from controlplane.registry.metadata import internal_state_of
from controlplane.routing.models import ConfigRevision, Deployment, Service
from controlplane.tenancy.models import Tenant

_ROLE_ORDER = {role: index for index, role in enumerate(ROLES)}


def service_get(*, tenant: Tenant, slug: str) -> Service:
    service = Service.objects.filter(tenant=tenant, slug=slug).select_related("tenant").first()
    if service is None:
        raise NotFound(f"service {slug!r} does not exist in tenant {tenant.slug!r}")
    return service


def deployments_ordered(*, service: Service) -> list[Deployment]:
    """Champions first, then fallbacks by rank, …: the order readers of a routing table expect."""
    rows = Deployment.objects.filter(service=service).select_related("version__model")
    return sorted(rows, key=lambda d: (_ROLE_ORDER[d.role], d.rank, d.version.model.slug, d.version.number))


def deployments_list(*, service: Service) -> list[dict[str, Any]]:
    """The routing table in the shape the API reads and writes (DESIGN.md §6)."""
    return [
        {
            "model": d.version.model.slug,
            "version": d.version.number,
            "role": d.role,
            "weight": d.weight,
            "rank": d.rank,
            "pool": d.pool,
            "last_resort": d.last_resort,
        }
        for d in deployments_ordered(service=service)
    ]


def _timeout_ms(metadata: dict[str, Any]) -> int:
    """The version's own scoring timeout, when its metadata names a sensible one (else the runner's)."""
    value = metadata.get("timeout_ms") if isinstance(metadata, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def config_snapshot_build(*, service: Service, revision: int) -> ServiceConfig:
    """Everything a worker needs about the service, so workers never read the database."""
    deployments = tuple(
        DeploymentSpec(
            model=d.version.model.slug,
            version=d.version.number,
            role=d.role,
            weight=d.weight,
            rank=d.rank,
            pool=d.pool,
            last_resort=d.last_resort,
            format=d.version.format,
            sha256=d.version.sha256,
            artifact_url=artifact_grant_url(
                tenant=service.tenant.slug, model=d.version.model.slug, version=d.version.number
            ),
            features=tuple(d.version.features),
            timeout_ms=_timeout_ms(d.version.metadata),
            internal_state=internal_state_of(d.version.metadata),
        )
        for d in deployments_ordered(service=service)
    )
    return ServiceConfig(
        tenant=service.tenant.slug,
        service=service.slug,
        revision=revision,
        deadline_ms=service.deadline_ms,
        partitions=service.partitions,
        deployments=deployments,
        external_state=dict(service.external_state or {}),
        published_at=time.time(),
    )


def revision_latest(*, service: Service) -> ConfigRevision | None:
    return ConfigRevision.objects.filter(service=service).order_by("-number").first()


def revisions_unpublished(*, created_before: datetime) -> QuerySet[ConfigRevision]:
    """Each service's newest revision when its publication failed (an older unpublished revision is
    superseded by the newer one, so only the newest is worth sending)."""
    latest = ConfigRevision.objects.filter(service=OuterRef("service")).order_by("-number").values("number")[:1]
    return (
        ConfigRevision.objects.filter(number=Subquery(latest), published_at__isnull=True, created_at__lt=created_before)
        .select_related("service__tenant")
        .order_by("pk")
    )
