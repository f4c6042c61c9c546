"""Per-tenant quotas: what a tenant may use, resolved from the settings' defaults and the operator's
overrides on its Tenant row, and the pure checks that refuse a create or a value past them.

No I/O here beyond reading ``django.conf.settings`` once per resolve: the counts come from the callers
(registry and routing services), the prediction rate and in-flight limits are enforced by the gateway
in Redis (controlplane/gateway/admission.py) with the numbers resolved here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from controlplane.errors import InvalidInput, QuotaExceeded

# Quota name → (Tenant field holding the operator's override, setting holding the default).
QUOTA_SOURCES: dict[str, tuple[str, str]] = {
    "predictions_per_s": ("quota_predictions_per_s", "RDV_QUOTA_PREDICTIONS_PER_S"),
    "in_flight": ("quota_in_flight", "RDV_QUOTA_IN_FLIGHT"),
    "services": ("quota_services", "RDV_QUOTA_SERVICES"),
    "models": ("quota_models", "RDV_QUOTA_MODELS"),
    "versions": ("quota_versions", "RDV_QUOTA_VERSIONS"),
    "deadline_ms": ("quota_deadline_ms", "RDV_QUOTA_DEADLINE_MS"),
    "timeout_ms": ("quota_timeout_ms", "RDV_QUOTA_TIMEOUT_MS"),
}


@dataclass(frozen=True, slots=True)
class TenantQuotas:
    predictions_per_s: int
    in_flight: int
    services: int
    models: int
    versions: int
    deadline_ms: int
    timeout_ms: int


def quotas_resolve(overrides: dict[str, int | None], defaults: dict[str, int]) -> TenantQuotas:
    """Each quota: the tenant's override when the operator set one, else the default (both by quota name)."""
    return TenantQuotas(
        **{
            f.name: overrides.get(f.name) if overrides.get(f.name) is not None else defaults[f.name]
            for f in fields(TenantQuotas)
        }
    )


def tenant_quotas(tenant: Any) -> TenantQuotas:
    """The quotas in force for ``tenant`` (a Tenant row), from its overrides and the settings."""
    from django.conf import settings

    return quotas_resolve(
        {name: getattr(tenant, field) for name, (field, _setting) in QUOTA_SOURCES.items()},
        {name: getattr(settings, setting) for name, (_field, setting) in QUOTA_SOURCES.items()},
    )


def count_quota_check(*, kind: str, used: int, limit: int, tenant: str) -> None:
    """One more ``kind`` (services, models, versions) when ``used`` already exist: 409 quota_exceeded past it."""
    if used >= limit:
        raise QuotaExceeded(
            f"tenant {tenant!r} has {used} {kind}, its quota is {limit}: delete one or ask the operator for more"
        )


def ceiling_check(*, field: str, value: int, limit: int) -> None:
    """A per-request time (deadline_ms, timeout_ms) above the tenant's ceiling: 400 naming both."""
    if value > limit:
        raise InvalidInput({field: f"{value} ms is above this tenant's maximum of {limit} ms"})
