"""Writes for services and routing; every routing change becomes a ConfigRevision published to rdv.config."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from contracts.codec import encode, to_builtins
from contracts.config import DEFAULT_POOL
from contracts.kafka import KafkaError
from contracts.roles import ANSWERING_ROLES, ROLES
from contracts.topics import config_key
from contracts.topology import service_topic_specs
from controlplane.errors import ConflictError, InvalidInput, StreamUnavailable
from controlplane.kafka import platform_topics_ensure, topics_ensure
from controlplane.registry.models import Model, ModelVersion
from controlplane.routing.models import ConfigRevision, Deployment, Service
from controlplane.routing.publishing import config_send
from controlplane.routing.selectors import config_snapshot_build
from controlplane.tenancy.models import Tenant


def service_topics_ensure(*, service: Service) -> list[str]:
    try:
        platform_topics_ensure()
        return topics_ensure(service_topic_specs(service.tenant.slug, service.slug, service.partitions))
    except KafkaError as exc:
        raise StreamUnavailable(f"could not create the topics of {service}: {exc}") from exc


def service_create(
    *,
    tenant: Tenant,
    slug: str,
    name: str,
    input_schema: dict[str, Any],
    deadline_ms: int = 200,
    external_state: dict[str, Any] | None = None,
    partitions: int = 4,
    actor: str = "system",
) -> Service:
    """Create the service, its topics and its first (empty) revision, so workers learn it exists.

    Topics are created inside the transaction: if the broker refuses, no service row is left
    without its streams.
    """
    with transaction.atomic():
        service = Service(
            tenant=tenant,
            slug=slug,
            name=name,
            input_schema=input_schema,
            deadline_ms=deadline_ms,
            external_state=external_state or {},
            partitions=partitions,
        )
        service.full_clean()
        service.save()
        service_topics_ensure(service=service)
        config_publish(service=service, actor=actor)
    return service


@dataclass(frozen=True)
class _Row:
    version: ModelVersion
    role: str
    weight: int
    rank: int
    pool: str
    last_resort: bool


def _resolve(service: Service, deployments: Sequence[dict[str, Any]]) -> list[_Row]:
    """Turn the request's rows into versions; every problem is reported at once, keyed by row index."""
    problems: dict[str, dict[str, str]] = {}
    rows: list[_Row] = []
    seen: set[tuple[str, int]] = set()
    models = {m.slug: m for m in Model.objects.filter(tenant=service.tenant)}
    for index, item in enumerate(deployments):
        problem: dict[str, str] = {}
        model = models.get(item.get("model"))
        number = item.get("version")
        version = None
        role = item.get("role")
        weight = item.get("weight", 100)
        rank = item.get("rank", 0)
        if model is None:
            problem["model"] = f"unknown model {item.get('model')!r} in tenant {service.tenant.slug!r}"
        else:
            version = model.versions.filter(number=number).first() if isinstance(number, int) else None
            if version is None:
                problem["version"] = f"model {model.slug!r} has no version {number!r}"
            elif (model.slug, number) in seen:
                problem["version"] = f"{model.slug} v{number} appears more than once"
            else:
                seen.add((model.slug, number))
        if role not in ROLES:
            problem["role"] = f"choose one of {', '.join(ROLES)}"
        if not isinstance(weight, int) or weight < 0 or (role == "champion" and weight <= 0):
            problem["weight"] = "champions need a weight above 0; weights are non-negative integers"
        if not isinstance(rank, int):
            problem["rank"] = "must be an integer"
        last_resort = item.get("last_resort", False)
        if not isinstance(last_resort, bool) or (last_resort and role != "canary"):
            problem["last_resort"] = "true or false, and only a canary can be the last resort"
        if problem or version is None:
            problems[str(index)] = problem
            continue
        rows.append(
            _Row(
                version=version,
                role=role,
                weight=weight,
                rank=rank,
                pool=item.get("pool") or DEFAULT_POOL,
                last_resort=last_resort,
            )
        )
    if problems:
        raise InvalidInput({"deployments": problems})
    roles = {row.role for row in rows}
    if roles & ANSWERING_ROLES and "champion" not in roles:
        raise InvalidInput(
            {"deployments": "a routing table with answering roles needs at least one champion"}
        )
    return rows


@transaction.atomic
def deployments_replace(
    *, service: Service, deployments: Sequence[dict[str, Any]], actor: str
) -> ConfigRevision:
    """Replace the routing table atomically; a version that is not ``ready`` leaves it unchanged (409)."""
    rows = _resolve(service, deployments)
    not_ready = [row.version for row in rows if row.version.status != ModelVersion.Status.READY]
    if not_ready:
        names = ", ".join(f"{v.model.slug} v{v.number} is {v.status}" for v in not_ready)
        raise ConflictError(f"only ready versions can be deployed: {names}")
    Deployment.objects.filter(service=service).delete()
    for row in rows:
        deployment = Deployment(
            service=service,
            version=row.version,
            role=row.role,
            weight=row.weight,
            rank=row.rank,
            pool=row.pool,
            last_resort=row.last_resort,
        )
        deployment.full_clean()
        deployment.save()
    return config_publish(service=service, actor=actor)


def config_publish(*, service: Service, actor: str, robust: bool = False) -> ConfigRevision:
    """Record the current routing as the next revision and publish it once the transaction commits.

    Publishing after commit means workers never see a revision the database rolled back; if the
    broker then fails, the revision stays with ``published_at`` unset and StreamUnavailable is raised
    where the transaction commits (``robust=True`` logs it instead, for callers such as the admin
    that cannot answer an error after their own commit).
    """
    with transaction.atomic():
        # Lock the service so concurrent publishers take distinct, ordered revision numbers.
        Service.objects.select_for_update().filter(pk=service.pk).first()
        last = ConfigRevision.objects.filter(service=service).order_by("-number").first()
        snapshot = config_snapshot_build(service=service, revision=(last.number if last else 0) + 1)
        revision = ConfigRevision.objects.create(
            service=service, number=snapshot.revision, snapshot=to_builtins(snapshot), actor=actor
        )
        key = config_key(service.tenant.slug, service.slug)
        value = encode(snapshot)

        def send() -> None:
            config_send(key=key, value=value)
            revision.published_at = timezone.now()
            ConfigRevision.objects.filter(pk=revision.pk).update(published_at=revision.published_at)

        transaction.on_commit(send, robust=robust)
    return revision


def service_delete(*, service: Service) -> None:
    """Delete the service and tombstone its config key so workers drop it (topics are kept for now)."""
    key = config_key(service.tenant.slug, service.slug)
    with transaction.atomic():
        service.delete()
        transaction.on_commit(lambda: config_send(key=key, value=None))
