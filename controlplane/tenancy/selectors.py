"""Reads of tenants and tokens; ``token_authenticate`` is what every authenticated request runs."""

from __future__ import annotations

import hashlib

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from controlplane.errors import NotFound
from controlplane.tenancy.models import ApiToken, Tenant

TOKEN_PREFIX = "rdv_"


def token_hash(*, secret: str) -> str:
    """A plain SHA-256 suffices: secrets are 256 random bits, so there is nothing to brute-force."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _lookup_kwargs(secret: str) -> dict[str, str] | None:
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    return {"key_hash": token_hash(secret=secret)}


def token_authenticate(*, secret: str) -> ApiToken | None:
    """The live token for ``secret``, with its tenant loaded, or None when unknown or revoked.

    Synchronous on purpose so async callers can wrap it in ``sync_to_async``; ``atoken_authenticate``
    is the native async twin.
    """
    lookup = _lookup_kwargs(secret)
    if lookup is None:
        return None
    return ApiToken.objects.select_related("tenant").filter(revoked_at__isnull=True, **lookup).first()


async def atoken_authenticate(*, secret: str) -> ApiToken | None:
    lookup = _lookup_kwargs(secret)
    if lookup is None:
        return None
    return await ApiToken.objects.select_related("tenant").filter(revoked_at__isnull=True, **lookup).afirst()


def token_actor(*, token: ApiToken) -> str:
    """How a token appears in audit entries and revisions: its name and the prefix users see in lists."""
    return f"token:{token.name[:150]} ({TOKEN_PREFIX}{token.prefix})"


def token_get(*, tenant: Tenant, token_id: int) -> ApiToken:
    token = ApiToken.objects.filter(tenant=tenant, pk=token_id).first()
    if token is None:
        raise NotFound(f"token {token_id} does not exist in tenant {tenant.slug!r}")
    return token


def tenant_get(*, slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        raise NotFound(f"tenant {slug!r} does not exist")
    return tenant


def tenants_visible_to(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Tenant]:
    """The tenants a console user may see (*extension (console)*): every one for staff, the tenants the user
    is a member of otherwise, none for an anonymous or inactive user."""
    if not user.is_authenticated or not user.is_active:
        return Tenant.objects.none()
    if user.is_staff:
        return Tenant.objects.all()
    return Tenant.objects.filter(memberships__user=user).distinct()
