"""Plain-data builders for rendezvous tests: configs, requests and scores without Kafka."""

from __future__ import annotations

from contracts.config import DeploymentSpec, ServiceConfig
from contracts.messages import Request, Score


def deployment(
    model: str, version: int, role: str, *, weight: int = 100, rank: int = 0, last_resort: bool = False
) -> DeploymentSpec:
    return DeploymentSpec(
        model=model, version=version, role=role, weight=weight, rank=rank, last_resort=last_resort,
        format="skops", sha256="0" * 64, artifact_url="file:///dev/null",
    )


def config(*deployments: DeploymentSpec, deadline_ms: int = 100, grace_ms: int = 500) -> ServiceConfig:
    return ServiceConfig(
        tenant="acme", service="fraud", revision=7, deadline_ms=deadline_ms, partitions=4,
        deployments=tuple(deployments), grace_ms=grace_ms,
    )


def request(request_id: str = "r1", *, sent_at: float = 1000.0, deadline_ms: int = 100,
            user_key: str | None = None) -> Request:
    return Request(
        request_id=request_id, tenant="acme", service="fraud", user_key=user_key, sent_at=sent_at,
        deadline_ms=deadline_ms, config_revision=7, inputs={"x": 1.0},
    )


def score(model: str, version: int, *, role: str = "champion", ok: bool = True, request_id: str = "r1",
          scored_at: float = 1000.010, label: int = 1) -> Score:
    return Score(
        request_id=request_id, tenant="acme", service="fraud", model=model, version=version, role=role,
        status="ok" if ok else "error", output={"label": label} if ok else None,
        error=None if ok else "boom", latency_ms=2.0, runner="r", scored_at=scored_at,
    )
