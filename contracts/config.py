"""The per-service config snapshot published to ``rdv.config`` (compacted, key ``tenant/service``)."""

from __future__ import annotations

from typing import Any

import msgspec

from contracts.formats import Format
from contracts.keys import ModelVersion
from contracts.roles import Role
from contracts.state import RedisProvider

DEFAULT_POOL = "default"


class DeploymentSpec(msgspec.Struct, kw_only=True, frozen=True):
    model: str
    version: int
    role: Role
    weight: int = 0
    rank: int = 0
    pool: str = DEFAULT_POOL
    # A canary answers only when marked as the last resort, after every fallback.
    last_resort: bool = False
    format: Format
    sha256: str
    # http(s): the control plane's grant endpoint, where a runner POSTs its pool token for a short-lived
    # signed download URL (DESIGN.md §6, Artifact access); file:// (tests, the validator): read directly.
    artifact_url: str
    # The model's input columns in order; the runner builds a float row from ``inputs``.
    features: tuple[str, ...] = ()
    # How long one scoring call of this version may take (version metadata ``timeout_ms``); 0 = the
    # runner's default. Runners cap it at their own maximum.
    timeout_ms: int = 0
    # The version's own state (its ``metadata.internal_state``), injected by the runner before it only.
    internal_state: RedisProvider | None = None

    @property
    def key(self) -> ModelVersion:
        return ModelVersion(self.model, self.version)


class ServiceConfig(msgspec.Struct, kw_only=True, frozen=True):
    tenant: str
    service: str
    revision: int
    deadline_ms: int
    partitions: int
    deployments: tuple[DeploymentSpec, ...] = ()
    # How long late scores are still collected into the decision record after the answer.
    grace_ms: int = 1000
    # The service's external-state spec as configured (contracts.state.external_state_parse reads it);
    # the gateway injects its values into each Request, so workers never evaluate it.
    external_state: dict[str, Any] = {}
    published_at: float = 0.0

    def in_pool(self, pool: str) -> tuple[DeploymentSpec, ...]:
        return tuple(d for d in self.deployments if d.pool == pool)

    def by_role(self, role: str) -> tuple[DeploymentSpec, ...]:
        return tuple(d for d in self.deployments if d.role == role)
