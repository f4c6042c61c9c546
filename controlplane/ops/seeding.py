"""Idempotent building blocks of the demo and benchmark seeds: a trained version, a saved token."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.files import File

from controlplane.registry.models import Model, ModelVersion
from controlplane.registry.services import model_create, version_create
from controlplane.tenancy.models import Tenant
from controlplane.tenancy.selectors import token_authenticate
from controlplane.tenancy.services import tenant_create, token_create

Say = Callable[[str], None]


def tenant_model_ensure(*, tenant: str, tenant_name: str, model: str, model_name: str, say: Say) -> Model:
    """The seed's tenant and model, created the first time only."""
    tenant_row = Tenant.objects.filter(slug=tenant).first() or tenant_create(slug=tenant, name=tenant_name)
    say(f"tenant {tenant_row.slug}: ready")
    return Model.objects.filter(tenant=tenant_row, slug=model).first() or model_create(
        tenant=tenant_row, slug=model, name=model_name
    )


def version_ensure(
    *, model: Model, number: int, train: Callable[[], Any], metadata: dict[str, Any], say: Say
) -> ModelVersion:
    """Version ``number`` of the model, trained and registered (validated) the first time only.

    Validation runs here rather than in a Celery worker: ``make run`` serves the demo the moment it starts.
    """
    existing = model.versions.filter(number=number).first()
    if existing is not None:
        say(f"version {number}: exists ({existing.status})")
        return existing
    import skops.io  # only needed when something has to be trained

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{model.slug}-v{number}.skops"
        skops.io.dump(train(), path)
        with path.open("rb") as handle:
            version = version_create(
                model=model,
                artifact_file=File(handle, name=path.name),
                format=ModelVersion.Format.SKOPS,
                metadata=metadata,
                validate_inline=True,  # the same child-process validation, so the seed ends with a ready model
            )
    say(f"version {version.number}: trained and registered ({version.status}: {version.report})")
    return version


def token_ensure(*, tenant: Tenant, token_path: Path, name: str, say: Say) -> str:
    """The secret kept in ``token_path`` while it still authenticates for the tenant, else a new one."""
    if token_path.exists():
        secret = token_path.read_text().strip()
        token = token_authenticate(secret=secret)
        if token is not None and token.tenant_id == tenant.pk:
            say(f"token: reusing {token_path}")
            return secret
    _, secret = token_create(tenant=tenant, name=name, scopes=["predict", "read", "deploy"])
    token_path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    say(f"token: created, secret written to {token_path}")
    return secret
