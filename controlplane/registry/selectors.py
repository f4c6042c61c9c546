"""Reads of the registry."""

from __future__ import annotations

from controlplane.errors import NotFound
from controlplane.registry.models import Model, ModelVersion
from controlplane.tenancy.models import Tenant


def model_get(*, tenant: Tenant, slug: str) -> Model:
    model = Model.objects.filter(tenant=tenant, slug=slug).select_related("tenant").first()
    if model is None:
        raise NotFound(f"model {slug!r} does not exist in tenant {tenant.slug!r}")
    return model


def version_get(*, model: Model, number: int) -> ModelVersion:
    version = ModelVersion.objects.filter(model=model, number=number).select_related("model__tenant").first()
    if version is None:
        raise NotFound(f"model {model.slug!r} has no version {number}")
    return version
