"""What a predict call needs from the database, cached briefly so the hot path rarely touches it.

A token revoked or a schema changed takes effect within ``CACHE_SECONDS``; that is the price of not
querying the database on every prediction.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async

from contracts.state import ExternalStateSpec
from controlplane.gateway.admission import PredictQuota
from controlplane.gateway.errors import GatewayError
from controlplane.gateway.state import spec_for_service

CACHE_SECONDS = 2.0
CACHE_MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class Caller:
    tenant: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    tenant: str
    service: str
    deadline_ms: int
    schema_json: str
    # Parsed once per cache refresh, so the hot path never re-reads the spec.
    state: ExternalStateSpec
    revision: int
    # Why a schema stored before the safe subset existed can no longer be evaluated (predicts refused).
    schema_problems: tuple[str, ...] = ()


_callers: dict[str, tuple[float, Caller | None]] = {}
_services: dict[tuple[str, str], tuple[float, ServiceTarget | None]] = {}
_tenants: dict[str, tuple[float, PredictQuota | None]] = {}


def _load_caller(secret: str) -> Caller | None:
    from controlplane.tenancy.models import SCOPES
    from controlplane.tenancy.selectors import token_authenticate

    token = token_authenticate(secret=secret)
    if token is None:
        return None
    # The token's own rule (``admin`` implies the others), evaluated once for the cache.
    return Caller(tenant=token.tenant.slug, scopes=frozenset(s for s in SCOPES if token.has_scope(s)))


def _load_tenant(tenant: str) -> PredictQuota | None:
    """The tenant's prediction quotas, or None when there is no such tenant."""
    from controlplane.tenancy.models import Tenant
    from controlplane.tenancy.quotas import tenant_quotas

    row = Tenant.objects.filter(slug=tenant).first()
    if row is None:
        return None
    quotas = tenant_quotas(row)
    return PredictQuota(predictions_per_s=quotas.predictions_per_s, in_flight=quotas.in_flight)


def _load_service(tenant: str, service: str) -> ServiceTarget | None:
    from controlplane.routing.models import ConfigRevision, Service
    from controlplane.routing.schemas import schema_problems

    row = Service.objects.filter(tenant__slug=tenant, slug=service).first()
    if row is None:
        return None
    latest = ConfigRevision.objects.filter(service=row).order_by("-number").values_list("number", flat=True)
    return ServiceTarget(
        tenant=tenant,
        service=service,
        deadline_ms=row.deadline_ms,
        schema_json=json.dumps(row.input_schema, sort_keys=True),
        state=spec_for_service(row.external_state, service=f"{tenant}/{service}"),
        revision=latest.first() or 0,
        schema_problems=tuple(schema_problems(row.input_schema)),
    )


async def _cached(cache: dict, key: Any, load: Any, *args: Any) -> Any:
    now = time.monotonic()
    hit = cache.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    value = await sync_to_async(load)(*args)
    if len(cache) >= CACHE_MAX_ENTRIES:
        # Keys come from callers (any string sent as a token): never let them grow the cache unbounded.
        cache.clear()
    cache[key] = (now, value)
    return value


async def authorise(authorization: str | None, tenant: str, scope: str) -> Caller:
    if not authorization:
        raise GatewayError(401, "not_authenticated", "send `Authorization: Bearer <token>`")
    kind, _, secret = authorization.partition(" ")
    if kind.lower() != "bearer" or not secret.strip():
        raise GatewayError(401, "not_authenticated", "send `Authorization: Bearer <token>`")
    caller = await _cached(_callers, secret.strip(), _load_caller, secret.strip())
    if caller is None:
        raise GatewayError(401, "authentication_failed", "the token is not valid")
    if await _cached(_tenants, tenant, _load_tenant, tenant) is None:
        raise GatewayError(404, "not_found", f"no tenant {tenant!r}")
    if caller.tenant != tenant:
        raise GatewayError(403, "forbidden", "this token belongs to another tenant")
    if scope not in caller.scopes:
        raise GatewayError(403, "forbidden", f"this token lacks the {scope!r} scope")
    return caller


async def predict_quota(tenant: str) -> PredictQuota:
    """The tenant's rate and in-flight quotas (cached with its existence, so after ``authorise`` no query)."""
    quota = await _cached(_tenants, tenant, _load_tenant, tenant)
    if quota is None:
        raise GatewayError(404, "not_found", f"no tenant {tenant!r}")
    return quota


async def service_target(tenant: str, service: str) -> ServiceTarget:
    target = await _cached(_services, (tenant, service), _load_service, tenant, service)
    if target is None:
        raise GatewayError(404, "not_found", f"no service {service!r} for tenant {tenant!r}")
    return target
