"""WorkerStatus reports as runners send them, for tests that feed the fleet store directly."""

from __future__ import annotations

import time

from contracts.messages import AppliedRevision, VersionStatus, WorkerStatus
from controlplane.registry.models import ModelVersion
from controlplane.routing.models import Service


def runner_status(
    worker: str,
    service: Service,
    revision: int,
    versions: dict[ModelVersion, str | tuple[str, str]],
    *,
    pool: str = "default",
    at: float | None = None,
) -> WorkerStatus:
    """A runner of ``pool`` that applied ``revision`` of ``service`` and holds ``versions`` in those states
    (a state, or ``(state, error)``)."""
    now = time.time() if at is None else at
    reported = []
    for version, state in versions.items():
        state, error = (state, None) if isinstance(state, str) else state
        reported.append(
            VersionStatus(
                tenant=service.tenant.slug,
                model=version.model.slug,
                version=version.number,
                sha256=version.sha256,
                state=state,
                error=error,
            )
        )
    return WorkerStatus(
        worker=worker,
        kind="runner",
        pool=pool,
        at=now,
        interval_s=3.0,
        revisions={f"{service.tenant.slug}/{service.slug}": AppliedRevision(revision=revision, applied_at=now)},
        versions=reported,
    )
