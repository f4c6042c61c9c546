"""Console fixtures: a service with deployments, stored roll-ups, drift points and a firing alert."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser

from controlplane.alerts.models import Alert
from controlplane.audit.services import audit_record
from controlplane.decisions.models import DecisionRecord
from controlplane.drift.models import DriftPoint
from controlplane.monitoring.services import RecordDecisions, rollups_store
from controlplane.routing.models import Service
from controlplane.tenancy.models import Membership, Tenant
from tests.controlplane.monitoring.builders import random_decisions
from tests.factories import DeploymentFactory, ModelFactory, ModelVersionFactory, ServiceFactory, unique_slug

PASSWORD = "a-long-test-password"


def member_of(tenant: Tenant | None, *, staff: bool = False) -> AbstractUser:
    user = get_user_model().objects.create_user(username=unique_slug("u"), password=PASSWORD, is_staff=staff)
    if tenant is not None:
        Membership.objects.create(user=user, tenant=tenant, role=Membership.Role.VIEWER)
    return user


@dataclass(frozen=True)
class Watched:
    service: Service
    minutes: list[int]
    request_id: str


def watched_service(*, tenant: Tenant | None = None, minutes_ago: tuple[int, ...] = (50, 20, 2)) -> Watched:
    """A service routing to iris v1/v2 and tree v4 (the roll-up builders' deployments), with decisions
    stored at each of ``minutes_ago``, two drift features (one flagged) and a firing p99 alert."""
    service = ServiceFactory(**({"tenant": tenant} if tenant else {}))
    iris = ModelFactory(tenant=service.tenant, slug="iris")
    tree = ModelFactory(tenant=service.tenant, slug="tree")
    for model, number, role in ((iris, 1, "champion"), (iris, 2, "challenger"), (tree, 4, "fallback")):
        version = ModelVersionFactory(model=model, number=number)
        DeploymentFactory(service=service, version=version, role=role, pool="default")
    now = time.time()
    topic = f"rdv.{service.tenant.slug}.{service.slug}.decisions"
    minutes = []
    for offset, ago in enumerate(minutes_ago):
        at = int((now - ago * 60) // 60) * 60
        minutes.append(at)
        decisions = random_decisions(service.tenant.slug, service.slug, 30, seed=ago, decided_at=at)
        rollups_store(records=[RecordDecisions(service.pk, topic, 0, offset, decisions)])
    end = datetime.fromtimestamp(now, tz=UTC)
    for feature, scores in (("petal_length", [0.05, 0.12, 0.31]), ("sepal_width", [0.02, 0.03, 0.02])):
        for back, score in zip((30, 20, 10), scores, strict=True):
            DriftPoint.objects.create(
                service=service, bucket_start=end - timedelta(minutes=back + 10),
                bucket_end=end - timedelta(minutes=back),
                feature=feature, kind="numeric", psi=score, ks=None, ks_pvalue=None, threshold=0.2,
                flagged=score > 0.2, requests=30, count=30, missing=0,
            )
    Alert.objects.create(
        service=service, kind="p99", subject="", threshold=50.0, value_at_raise=80.0, value_worst=95.0,
        value_latest=90.0, raised_at=end - timedelta(minutes=5),
    )
    sample = decisions[0]
    DecisionRecord.objects.create(
        service=service, request_id=sample.request_id, status=sample.status, reason=sample.reason,
        model=sample.model, version=sample.version, latency_ms=sample.latency_ms, config_revision=1,
        output=sample.output, candidates=[candidate_json(c) for c in sample.candidates],
        decided_at=datetime.fromtimestamp(sample.decided_at, tz=UTC),
    )
    audit_record(tenant=service.tenant, actor="token:ci", action="deployments.replace", target=service.slug,
                 diff={"weight": {"before": 100, "after": 50}})
    return Watched(service=service, minutes=minutes, request_id=sample.request_id)


def candidate_json(candidate: object) -> dict:
    return {name: getattr(candidate, name) for name in candidate.__struct_fields__}  # type: ignore[attr-defined]
