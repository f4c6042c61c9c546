"""Writes for the registry: creating models and versions (numbered atomically, hashed, queued for validation)."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from controlplane.audit.services import audit_record
from controlplane.errors import ConflictError, InvalidInput, TooLarge
from controlplane.registry.metadata import internal_state_check
from controlplane.registry.models import Model, ModelVersion
from controlplane.registry.trust import format_upload_check
from controlplane.registry.validation import version_validate, version_validation_enqueue
from controlplane.tenancy.models import Tenant
from controlplane.tenancy.quotas import ceiling_check, count_quota_check, tenant_quotas

_CHUNK = 1024 * 1024


def model_create(*, tenant: Tenant, slug: str, name: str, actor: str = "system") -> Model:
    """A slug already taken in the tenant is a conflict (409)."""
    if Model.objects.filter(tenant=tenant, slug=slug).exists():
        raise ConflictError(f"model {slug!r} already exists in tenant {tenant.slug!r}")
    used = Model.objects.filter(tenant=tenant).count()
    count_quota_check(kind="models", used=used, limit=tenant_quotas(tenant).models, tenant=tenant.slug)
    model = Model(tenant=tenant, slug=slug, name=name)
    model.full_clean()
    try:
        with transaction.atomic():
            model.save()
            audit_record(
                tenant=tenant,
                actor=actor,
                action="model.create",
                target=f"model:{slug}",
                diff={"created": {"slug": slug, "name": name}},
            )
    except IntegrityError as exc:  # a concurrent create won the race for the slug
        raise ConflictError(f"model {slug!r} already exists in tenant {tenant.slug!r}") from exc
    return model


def _metadata_check(metadata: Any, *, timeout_ms_max: int) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise InvalidInput({"metadata": "must be a JSON object"})
    timeout_ms = metadata.get("timeout_ms")
    if timeout_ms is not None:
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms < 1:
            raise InvalidInput({"metadata": {"timeout_ms": "a whole number of milliseconds, at least 1"}})
        try:
            ceiling_check(field="timeout_ms", value=timeout_ms, limit=timeout_ms_max)
        except InvalidInput as exc:
            raise InvalidInput({"metadata": exc.detail}) from exc
    features = metadata.get("features", [])
    if not isinstance(features, list) or not all(isinstance(name, str) and name for name in features):
        raise InvalidInput({"metadata": "features must be a list of input names"})
    if len(set(features)) != len(features):
        raise InvalidInput({"metadata": "features must not repeat a name"})
    if not isinstance(metadata.get("example", {}), dict):
        raise InvalidInput({"metadata": "example must be an inputs object"})
    internal_state_check(metadata)
    return metadata


def _digest(artifact_file: File) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    artifact_file.seek(0)
    for chunk in artifact_file.chunks(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    artifact_file.seek(0)
    return digest.hexdigest(), size


def _stored_name(artifact_file: File, format: str) -> str:
    """The uploaded file's own name when it is a usable one; uploads can name themselves anything."""
    name = (getattr(artifact_file, "name", None) or "").replace("\\", "/").rsplit("/", 1)[-1]
    try:
        return get_valid_filename(name)[-100:]
    except SuspiciousFileOperation:
        return f"artifact.{format}"


def artifact_size_check(*, size: int | None) -> None:
    """Above ``RDV_ARTIFACT_MAX_BYTES`` → 413; callers may check a declared size before reading the body."""
    limit = settings.RDV_ARTIFACT_MAX_BYTES
    if size is not None and size > limit:
        raise TooLarge(f"the artifact is {size} bytes; the limit is {limit} bytes")


def version_create(
    *,
    model: Model,
    artifact_file: File,
    format: str,
    metadata: dict[str, Any],
    actor: str = "system",
    validate_inline: bool = False,
) -> ModelVersion:
    """Store a new version as ``validating`` and queue its validation (a Celery task) on commit.

    ``validate_inline`` runs the same validation (``version_validate``: a child process with limits)
    before returning instead, for seeds that must leave a ready model behind without a worker.
    A code format (joblib, pickle, python) from a tenant the operator has not trusted is refused (400).
    """
    if format not in ModelVersion.Format.values:
        raise InvalidInput({"format": f"choose one of {', '.join(ModelVersion.Format.values)}"})
    format_upload_check(tenant=model.tenant, format=format)
    quotas = tenant_quotas(model.tenant)
    metadata = _metadata_check(metadata, timeout_ms_max=quotas.timeout_ms)
    used = ModelVersion.objects.filter(model__tenant=model.tenant).count()
    count_quota_check(kind="versions", used=used, limit=quotas.versions, tenant=model.tenant.slug)
    artifact_size_check(size=getattr(artifact_file, "size", None))
    sha256, size = _digest(artifact_file)
    artifact_size_check(size=size)
    if size == 0:
        raise InvalidInput({"artifact": "the file is empty"})
    with transaction.atomic():
        # Lock the model row so two uploads cannot both take the same next number.
        Model.objects.select_for_update().filter(pk=model.pk).first()
        last = model.versions.order_by("-number").values_list("number", flat=True).first() or 0
        version = ModelVersion(
            model=model,
            number=last + 1,
            format=format,
            sha256=sha256,
            size=size,
            metadata=metadata,
            status=ModelVersion.Status.VALIDATING,
            report="queued for validation",
            validation_queued_at=timezone.now(),
        )
        version.artifact.save(_stored_name(artifact_file, format), artifact_file, save=False)
        version.save()
        audit_record(
            tenant=model.tenant,
            actor=actor,
            action="version.create",
            target=f"version:{model.slug}/{version.number}",
            diff={
                "created": {
                    "version": version.number,
                    "format": format,
                    "sha256": sha256,
                    "size": size,
                    "metadata": metadata,
                }
            },
        )
        if not validate_inline:
            version_validation_enqueue(version=version)
    if validate_inline:
        return version_validate(version_id=version.pk) or version
    return version
