"""Celery tasks of the registry: thin shells that take ids and call the validation services."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from controlplane.registry.validation import VALIDATE_TASK, version_validate, versions_validation_sweep


# The child process has its own timeout; Celery's hard limit is only a backstop for a stuck parent.
@shared_task(name=VALIDATE_TASK, time_limit=settings.RDV_VALIDATION_TIMEOUT_S + 60)
def version_validate_task(version_id: int) -> str | None:
    version = version_validate(version_id=version_id)
    return None if version is None else version.status


@shared_task(name="registry.versions_validation_sweep")
def versions_validation_sweep_task() -> dict[str, int]:
    return versions_validation_sweep()
