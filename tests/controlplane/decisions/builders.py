"""Decisions as a rendezvous worker writes them, for the service under test."""

from __future__ import annotations

import time
import uuid
from typing import Any

from contracts import Candidate, Decision
from controlplane.routing.models import Service


def decision_for(service: Service, request_id: str | None = None, /, **fields: Any) -> Decision:
    values: dict[str, Any] = {
        "request_id": request_id or uuid.uuid4().hex,
        "tenant": service.tenant.slug,
        "service": service.slug,
        "status": "ok",
        "output": {"label": 0},
        "model": "iris",
        "version": 1,
        "reason": "champion",
        "latency_ms": 6.0,
        "config_revision": 3,
        "candidates": [
            Candidate(model="iris", version=1, role="champion", status="ok", output={"label": 0}, latency_ms=0.42),
            Candidate(model="iris", version=2, role="challenger", status="missing"),
            Candidate(
                model="iris", version=3, role="fallback", status="error", error="boom", latency_ms=250.0, late=True,
                demoted="error rate 62% over its last 50 requests",
            ),
        ],
        "decided_at": time.time(),
    }
    return Decision(**{**values, **fields})
