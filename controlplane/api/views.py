"""Shared bases for tenant-scoped API views: authentication, tenant/scope checks, actor, object lookup."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from controlplane.api.parsers import JSONParser
from controlplane.routing.models import Service
from controlplane.routing.selectors import service_get
from controlplane.tenancy.authentication import BearerTokenAuthentication, TenantScopePermission
from controlplane.tenancy.models import Tenant
from controlplane.tenancy.selectors import token_actor


class TenantScoped:
    """URL kwarg ``tenant`` must be the token's tenant; subclasses set ``required_scopes`` per method."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [TenantScopePermission]
    required_scopes: dict[str, str | tuple[str, ...]] = {}
    # JSON everywhere (DESIGN.md §6); the version upload overrides this with multipart.
    parser_classes = [JSONParser]

    @property
    def tenant(self) -> Tenant:
        # TenantScopePermission has already checked the URL names this token's tenant.
        return self.request.auth.tenant  # type: ignore[attr-defined]

    @property
    def actor(self) -> str:
        """Who the audit log and config revisions name for this request's writes."""
        return token_actor(token=self.request.auth)  # type: ignore[attr-defined]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        # PostgreSQL cannot store or compare text holding NUL: a filter on one would be a 500.
        if any("\x00" in key or "\x00" in value for key, value in request.query_params.items()):
            raise ParseError("query parameters cannot contain the NUL character (%00)")

    def get_service(self) -> Service:
        return service_get(tenant=self.tenant, slug=self.kwargs["service"])  # type: ignore[attr-defined]


class TenantApiView(TenantScoped, APIView):
    """An operation with rules: parse input, call one service, answer its result."""


class TenantListApiView(TenantScoped, ListAPIView):
    """A paginated read-only list (history, audit): subclasses provide ``get_queryset``."""


class TenantViewSet(TenantScoped, GenericViewSet):
    """Plain CRUD on the router; writes still go through services, never ``serializer.save()``."""
