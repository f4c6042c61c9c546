"""DRF authentication and permissions for tenant API tokens (``Authorization: Bearer <secret>``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from controlplane.tenancy.models import ApiToken, Tenant
from controlplane.tenancy.selectors import token_authenticate
from controlplane.tenancy.services import token_mark_used


@dataclass(frozen=True)
class TokenUser:
    """``request.user`` for token calls: there is no Django user behind a token, only its tenant."""

    token: ApiToken
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def tenant(self) -> Tenant:
        return self.token.tenant

    @property
    def pk(self) -> int:
        return self.token.pk


def bearer_secret(request: Request) -> str | None:
    """The secret after ``Bearer``; None when the header is absent, an error when it is malformed."""
    header = get_authorization_header(request).split()
    if not header or header[0].lower() != b"bearer":
        return None
    if len(header) != 2:
        raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
    try:
        return header[1].decode()
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed("The token contains invalid characters.") from None


class BearerTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[TokenUser, ApiToken] | None:
        secret = bearer_secret(request)
        if secret is None:
            return None
        token = token_authenticate(secret=secret)
        if token is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked token.")
        token_mark_used(token=token)
        return TokenUser(token), token

    def authenticate_header(self, request: Request) -> str:
        # Its presence makes DRF answer 401 (not 403) when the header is missing.
        return f'{self.keyword} realm="api"'


class TenantScopePermission(BasePermission):
    """The token must belong to the tenant in the URL and carry the scope the method needs.

    Views declare ``required_scopes = {"GET": "read", "PUT": "deploy"}`` (a tuple means any one of
    them); a method not listed needs ``admin``. Another tenant's token gets 403: tenants are public
    slugs, so there is nothing to hide.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            raise exceptions.NotAuthenticated()
        tenant_slug = view.kwargs.get("tenant")
        if tenant_slug is not None and tenant_slug != token.tenant.slug:
            raise exceptions.PermissionDenied(f"This token does not belong to tenant {tenant_slug!r}.")
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        required = getattr(view, "required_scopes", {}).get(method, "admin")
        scopes = (required,) if isinstance(required, str) else tuple(required)
        if not any(token.has_scope(scope) for scope in scopes):
            wanted = " or ".join(repr(scope) for scope in scopes)
            raise exceptions.PermissionDenied(f"This token lacks the {wanted} scope.")
        return True
