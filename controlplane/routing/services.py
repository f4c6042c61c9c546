"""Writes for services and routing; every routing change becomes a ConfigRevision published to rdv.config.

Each public function records its audit entry inside its own transaction, naming the ``actor`` it is given.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from contracts.codec import decode, encode, to_builtins
from contracts.config import ServiceConfig
from contracts.kafka import KafkaError
from contracts.topics import config_key
from contracts.topology import service_topic_specs
from controlplane.audit.services import audit_record, fields_changed
from controlplane.errors import ConflictError, InvalidInput, StreamUnavailable
from controlplane.kafka import platform_topics_ensure, topics_ensure
from controlplane.registry.models import ModelVersion
from controlplane.registry.trust import deployment_trust_problem
from controlplane.routing.models import ConfigRevision, Deployment, Service
from controlplane.routing.publishing import config_send
from controlplane.routing.selectors import (
    config_snapshot_build,
    deployments_list,
    revision_latest,
    revisions_unpublished,
)
from controlplane.routing.tables import Row, rows_resolve, table_from_snapshot, table_promoted, tables_equal
from controlplane.tenancy.kafka_access import service_kafka_acls_grant, service_kafka_acls_revoke
from controlplane.tenancy.models import Tenant
from controlplane.tenancy.quotas import ceiling_check, count_quota_check, tenant_quotas

log = logging.getLogger(__name__)

# What PATCH may change; slug and partitions name the topics and are fixed at creation.
SERVICE_EDITABLE = ("name", "input_schema", "deadline_ms", "external_state")
# Fields the workers' snapshot carries: changing one publishes a new revision.
SERVICE_SNAPSHOT_FIELDS = {"deadline_ms", "external_state"}


def _service_fields(service: Service) -> dict[str, Any]:
    return {name: getattr(service, name) for name in ("slug", *SERVICE_EDITABLE, "partitions")}


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
    without its streams. A slug already taken in the tenant is a conflict (409), not invalid input.
    """
    if Service.objects.filter(tenant=tenant, slug=slug).exists():
        raise ConflictError(f"service {slug!r} already exists in tenant {tenant.slug!r}")
    quotas = tenant_quotas(tenant)
    ceiling_check(field="deadline_ms", value=deadline_ms, limit=quotas.deadline_ms)
    count_quota_check(
        kind="services", used=Service.objects.filter(tenant=tenant).count(), limit=quotas.services, tenant=tenant.slug
    )
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
    try:
        with transaction.atomic():
            service.save()
            service_topics_ensure(service=service)
            service_kafka_acls_grant(tenant_slug=tenant.slug, service_slug=slug)
            config_publish(service=service, actor=actor)
            audit_record(
                tenant=tenant,
                actor=actor,
                action="service.create",
                target=f"service:{slug}",
                diff={"created": _service_fields(service)},
            )
    except IntegrityError as exc:  # a concurrent create won the race for the slug
        raise ConflictError(f"service {slug!r} already exists in tenant {tenant.slug!r}") from exc
    return service


@transaction.atomic
def service_update(*, service: Service, changes: Mapping[str, Any], actor: str) -> Service:
    """Change the editable fields; a change the workers' snapshot carries publishes a new revision."""
    unknown = set(changes) - set(SERVICE_EDITABLE)
    if unknown:
        raise InvalidInput({name: "cannot be changed after creation" for name in sorted(unknown)})
    if "deadline_ms" in changes:
        limit = tenant_quotas(service.tenant).deadline_ms
        ceiling_check(field="deadline_ms", value=changes["deadline_ms"], limit=limit)
    before = _service_fields(service)
    for name, value in changes.items():
        setattr(service, name, value)
    service.full_clean()
    changed = fields_changed(before, _service_fields(service))
    if not changed:
        return service
    service.save(update_fields=list(changed))
    if SERVICE_SNAPSHOT_FIELDS & set(changed):
        config_publish(service=service, actor=actor)
    audit_record(
        tenant=service.tenant,
        actor=actor,
        action="service.update",
        target=f"service:{service.slug}",
        diff={"changed": changed},
    )
    return service


def service_delete(*, service: Service, actor: str = "system") -> None:
    """Delete the service and tombstone its config key so workers drop it (topics are kept for now)."""
    key = config_key(service.tenant.slug, service.slug)
    with transaction.atomic():
        audit_record(
            tenant=service.tenant,
            actor=actor,
            action="service.delete",
            target=f"service:{service.slug}",
            diff={"deleted": {**_service_fields(service), "deployments": deployments_list(service=service)}},
        )
        service.delete()
        transaction.on_commit(lambda: config_send(key=key, value=None))
        tenant_slug, service_slug = service.tenant.slug, service.slug
        transaction.on_commit(lambda: service_kafka_acls_revoke(tenant_slug=tenant_slug, service_slug=service_slug))


def _service_lock(service: Service) -> None:
    """Serialise routing changes of one service: promote and rollback read the table they rewrite."""
    Service.objects.select_for_update().filter(pk=service.pk).first()


def _routing_apply(
    *,
    service: Service,
    deployments: Sequence[Row],
    actor: str,
    action: str,
    note: dict[str, Any] | None = None,
    reason: str = "",
) -> ConfigRevision:
    """Replace the table, publish a revision and audit ``{before, after}``; the caller holds the lock."""
    before = deployments_list(service=service)
    rows = rows_resolve(service=service, deployments=deployments)
    not_ready = [row.version for row in rows if row.version.status != ModelVersion.Status.READY]
    if not_ready:
        names = ", ".join(f"{v.model.slug} v{v.number} is {v.status}" for v in not_ready)
        raise ConflictError(f"only ready versions can be deployed: {names}")
    untrusted = [p for row in rows if (p := deployment_trust_problem(version=row.version, pool=row.pool))]
    if untrusted:
        raise ConflictError(f"not deployable here: {'; '.join(untrusted)}")
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
    revision = config_publish(service=service, actor=actor, reason=reason)
    audit_record(
        tenant=service.tenant,
        actor=actor,
        action=action,
        target=f"service:{service.slug}",
        diff={
            "revision": revision.number,
            **({"reason": reason} if reason else {}),
            **(note or {}),
            "before": before,
            "after": deployments_list(service=service),
        },
    )
    return revision


@transaction.atomic
def deployments_replace(*, service: Service, deployments: Sequence[dict[str, Any]], actor: str) -> ConfigRevision:
    """Replace the routing table atomically; a version that is not ``ready`` leaves it unchanged (409)."""
    _service_lock(service)
    return _routing_apply(service=service, deployments=deployments, actor=actor, action="deployments.replace")


@transaction.atomic
def deployment_promote(*, service: Service, model: str, version: int, actor: str) -> ConfigRevision:
    """Blue-green switch to ``model`` v``version`` (see ``tables.table_promoted`` for the new table).

    Unknown model or version → 400; a version that is not ``ready`` → 409 and the routing is unchanged.
    Promoting the version that is already the only champion changes nothing and answers the live revision.
    """
    _service_lock(service)
    target = (
        ModelVersion.objects.filter(model__tenant=service.tenant, model__slug=model, number=version)
        .select_related("model")
        .first()
    )
    if target is None:
        raise InvalidInput({"version": f"model {model!r} has no version {version} in tenant {service.tenant.slug!r}"})
    if target.status != ModelVersion.Status.READY:
        raise ConflictError(f"only ready versions can be promoted: {model} v{version} is {target.status}")
    current = deployments_list(service=service)
    table = table_promoted(table=current, model=model, version=version)
    latest = revision_latest(service=service)
    if latest is not None and tables_equal(table, current):
        return latest
    return _routing_apply(
        service=service,
        deployments=table,
        actor=actor,
        action="service.promote",
        note={"promoted": {"model": model, "version": version}},
    )


@transaction.atomic
def routing_rollback(
    *, service: Service, revision: int | None = None, actor: str, reason: str = ""
) -> tuple[ConfigRevision, ConfigRevision]:
    """Republish an earlier revision's routing as a new revision; answers ``(new, restored_from)``.

    Without ``revision``: the latest earlier revision whose routing differs from the live one (so a
    settings-only revision is skipped, and a second rollback undoes the first). Only the routing table
    is restored, not deadline or external state. Its versions must still exist and be ready (409).
    ``reason`` (why a system actor rolls back) is kept on the new revision and in the audit entry.
    """
    _service_lock(service)
    latest = revision_latest(service=service)
    if latest is None:
        raise ConflictError(f"service {service.slug!r} has no revision to roll back from")
    if revision is None:
        live = table_from_snapshot(snapshot=latest.snapshot)
        earlier = ConfigRevision.objects.filter(service=service, number__lt=latest.number).order_by("-number")
        source = next(
            (r for r in earlier.iterator() if not tables_equal(table_from_snapshot(snapshot=r.snapshot), live)),
            None,
        )
        if source is None:
            raise ConflictError("nothing to roll back to: no earlier revision has a different routing")
    else:
        source = ConfigRevision.objects.filter(service=service, number=revision).first()
        if source is None:
            raise InvalidInput({"revision": f"service {service.slug!r} has no revision {revision}"})
    table = table_from_snapshot(snapshot=source.snapshot)
    _check_restorable(service=service, table=table, source=source)
    new = _routing_apply(
        service=service,
        deployments=table,
        actor=actor,
        action="service.rollback",
        note={"restored_from": source.number},
        reason=reason,
    )
    return new, source


def _check_restorable(*, service: Service, table: Sequence[Row], source: ConfigRevision) -> None:
    versions = {
        (v.model.slug, v.number): v
        for v in ModelVersion.objects.filter(model__tenant=service.tenant).select_related("model")
    }
    problems = []
    for row in table:
        version = versions.get((row["model"], row["version"]))
        if version is None:
            problems.append(f"{row['model']} v{row['version']} no longer exists")
        elif version.status != ModelVersion.Status.READY:
            problems.append(f"{row['model']} v{row['version']} is {version.status}")
    if problems:
        raise ConflictError(f"revision {source.number} cannot be restored: {', '.join(problems)}")


def config_publish(*, service: Service, actor: str, robust: bool = False, reason: str = "") -> ConfigRevision:
    """Record the current routing as the next revision and publish it once the transaction commits.

    Publishing after commit means workers never see a revision the database rolled back; if the
    broker then fails, the revision stays with ``published_at`` unset and StreamUnavailable is raised
    where the transaction commits (``robust=True`` logs it instead, for callers such as the admin
    that cannot answer an error after their own commit).
    """
    with transaction.atomic():
        # Lock the service so concurrent publishers take distinct, ordered revision numbers.
        _service_lock(service)
        last = ConfigRevision.objects.filter(service=service).order_by("-number").first()
        snapshot = config_snapshot_build(service=service, revision=(last.number if last else 0) + 1)
        revision = ConfigRevision.objects.create(
            service=service,
            number=snapshot.revision,
            snapshot=to_builtins(snapshot),
            actor=actor[:200],
            reason=reason,
        )
        key = config_key(service.tenant.slug, service.slug)
        value = encode(snapshot)
        transaction.on_commit(lambda: _revision_send(revision=revision, key=key, value=value), robust=robust)
    return revision


def _revision_send(*, revision: ConfigRevision, key: str, value: bytes) -> None:
    config_send(key=key, value=value)
    revision.published_at = timezone.now()
    ConfigRevision.objects.filter(pk=revision.pk).update(published_at=revision.published_at)


def config_republish_pending(*, older_than_s: float) -> list[ConfigRevision]:
    """Send again each service's newest revision whose publication failed at least ``older_than_s`` ago.

    The API answered 503 for it, but the database kept it as the service's current routing; workers
    must not stay on the previous one. Sending a revision twice is harmless (workers replace the
    service's snapshot with an identical one). Answers the revisions now published; a broker still
    down leaves them for the next sweep.
    """
    published = []
    for revision in revisions_unpublished(created_before=timezone.now() - timedelta(seconds=older_than_s)):
        service = revision.service
        key = config_key(service.tenant.slug, service.slug)
        value = encode(decode(ServiceConfig, json.dumps(revision.snapshot)))
        try:
            # Under the service's lock, and only while it is still the newest: a write that made a newer
            # revision meanwhile publishes that one, and it must not be overtaken by this older one.
            with transaction.atomic():
                _service_lock(service)
                if revision_latest(service=service) != revision:
                    continue
                _revision_send(revision=revision, key=key, value=value)
        except StreamUnavailable as exc:
            log.warning("revision %s is still unpublished: %s", revision, exc)
            break
        log.info("revision %s published by the sweep", revision)
        published.append(revision)
    return published
