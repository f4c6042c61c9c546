"""Writes for tenants and tokens. A token's secret exists only in the return value of ``token_create``."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from controlplane.audit.services import audit_record
from controlplane.errors import InvalidInput
from controlplane.tenancy.models import SCOPES, ApiToken, Tenant
from controlplane.tenancy.selectors import TOKEN_PREFIX, token_hash

# Recording every use would turn each authenticated read into a write; a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@transaction.atomic
def tenant_create(*, slug: str, name: str) -> Tenant:
    tenant = Tenant(slug=slug, name=name)
    tenant.full_clean()
    tenant.save()
    return tenant


@transaction.atomic
def token_create(*, tenant: Tenant, name: str, scopes: Iterable[str], actor: str = "system") -> tuple[ApiToken, str]:
    """Create a token and return it with its secret ``rdv_<prefix>_<random>``, the only time it is seen."""
    scope_list = sorted(set(scopes))
    unknown = [scope for scope in scope_list if scope not in SCOPES]
    if unknown or not scope_list:
        raise InvalidInput({"scopes": f"choose one or more of {', '.join(SCOPES)}; unknown: {unknown}"})
    prefix = secrets.token_hex(4)
    secret = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        tenant=tenant, name=name, prefix=prefix, key_hash=token_hash(secret=secret), scopes=scope_list
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action="token.create",
        target=f"token:{prefix}",
        diff={"created": {"id": token.pk, "name": name, "prefix": prefix, "scopes": scope_list}},
    )
    return token, secret


@transaction.atomic
def token_revoke(*, token: ApiToken, actor: str = "system") -> ApiToken:
    """Idempotent: revoking a revoked token changes nothing and records nothing."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            tenant=token.tenant,
            actor=actor,
            action="token.revoke",
            target=f"token:{token.prefix}",
            diff={"changed": {"revoked_at": {"before": None, "after": token.revoked_at}}},
        )
    return token


def token_mark_used(*, token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
