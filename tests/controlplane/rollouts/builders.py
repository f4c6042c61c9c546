"""A service with a champion and a staged candidate, and decisions as the rendezvous writes them."""

from __future__ import annotations

import time
import uuid
from typing import Any

from contracts import Candidate, Decision
from controlplane.decisions.services import decisions_store
from controlplane.registry.models import ModelVersion
from controlplane.routing.models import Service
from controlplane.routing.services import deployments_replace
from tests.factories import ModelFactory, ModelVersionFactory, ServiceFactory

STAGED = [
    {"model": "iris", "version": 1, "role": "champion", "weight": 100},
    {"model": "iris", "version": 2, "role": "challenger"},
]


def staged_service(**statuses: str) -> Service:
    """iris v1 champion and v2 challenger (revision 1); v3 exists with ``v3=status`` (ready by default)."""
    service = ServiceFactory()
    model = ModelFactory(tenant=service.tenant, slug="iris")
    for number in (1, 2, 3):
        ModelVersionFactory(model=model, status=statuses.get(f"v{number}", ModelVersion.Status.READY))
    deployments_replace(service=service, deployments=STAGED, actor="setup")
    return service


def candidate_scores(
    service: Service,
    count: int,
    *,
    revision: int,
    status: str = "ok",
    label: int = 0,
    baseline_label: int = 0,
    at: float | None = None,
    latency_ms: float = 4.0,
    version: int = 2,
) -> None:
    """Store ``count`` decisions in which iris v``version`` scored ``status`` next to champion v1."""
    decided_at = at if at is not None else time.time()

    def one() -> Decision:
        candidate: dict[str, Any] = {"model": "iris", "version": version, "role": "champion", "status": status}
        if status == "ok":
            candidate.update(output={"label": label}, latency_ms=latency_ms)
        elif status == "error":
            candidate.update(error="ValueError: missing feature 'petal_ratio'", latency_ms=latency_ms)
        return Decision(
            request_id=uuid.uuid4().hex, tenant=service.tenant.slug, service=service.slug, status="ok",
            output={"label": baseline_label}, model="iris", version=1, reason="champion", latency_ms=5.0,
            config_revision=revision, decided_at=decided_at,
            candidates=[
                Candidate(model="iris", version=1, role="champion", status="ok", output={"label": baseline_label},
                          latency_ms=3.0),
                Candidate(**candidate),
            ],
        )

    decisions_store(decisions=[one() for _ in range(count)])
