"""Writes for the registry: creating models and versions (numbered atomically, hashed, validated)."""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.files import File
from django.db import transaction

from controlplane.errors import InvalidInput
from controlplane.registry.models import Model, ModelVersion
from controlplane.registry.validation import version_validate
from controlplane.tenancy.models import Tenant

_CHUNK = 1024 * 1024


@transaction.atomic
def model_create(*, tenant: Tenant, slug: str, name: str) -> Model:
    model = Model(tenant=tenant, slug=slug, name=name)
    model.full_clean()
    model.save()
    return model


def _metadata_check(metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise InvalidInput({"metadata": "must be a JSON object"})
    features = metadata.get("features", [])
    if not isinstance(features, list) or not all(isinstance(name, str) and name for name in features):
        raise InvalidInput({"metadata": "features must be a list of input names"})
    if len(set(features)) != len(features):
        raise InvalidInput({"metadata": "features must not repeat a name"})
    if not isinstance(metadata.get("example", {}), dict):
        raise InvalidInput({"metadata": "example must be an inputs object"})
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


def version_create(
    *, model: Model, artifact_file: File, format: str, metadata: dict[str, Any]
) -> ModelVersion:
    """Store a new version and validate it before returning, so callers see ``ready`` or ``failed``.

    Validation runs synchronously for now; it moves to a Celery task (enqueued on commit) later, and
    callers already handle a version that is not ``ready`` yet.
    """
    if format not in ModelVersion.Format.values:
        raise InvalidInput({"format": f"choose one of {', '.join(ModelVersion.Format.values)}"})
    metadata = _metadata_check(metadata)
    sha256, size = _digest(artifact_file)
    if size == 0:
        raise InvalidInput({"artifact": "the file is empty"})
    with transaction.atomic():
        # Lock the model row so two uploads cannot both take the same next number.
        Model.objects.select_for_update().filter(pk=model.pk).first()
        last = model.versions.order_by("-number").values_list("number", flat=True).first() or 0
        version = ModelVersion(
            model=model, number=last + 1, format=format, sha256=sha256, size=size, metadata=metadata
        )
        name = getattr(artifact_file, "name", None) or f"artifact.{format}"
        version.artifact.save(name.rsplit("/", 1)[-1], artifact_file, save=False)
        version.save()
    return version_validate(version=version)
