"""Shared base for tenant-scoped API views: authentication, tenant/scope checks, object lookup."""

from __future__ import annotations

from rest_framework.views import APIView

from controlplane.routing.models import Service
from controlplane.routing.selectors import service_get
from controlplane.tenancy.authentication import BearerTokenAuthentication, TenantScopePermission
from controlplane.tenancy.models import Tenant


class TenantApiView(APIView):
    """URL kwarg ``tenant`` must be the token's tenant; subclasses set ``required_scopes`` per method."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [TenantScopePermission]
    required_scopes: dict[str, str] = {}

    @property
    def tenant(self) -> Tenant:
        # TenantScopePermission has already checked the URL names this token's tenant.
        return self.request.auth.tenant

    def get_service(self) -> Service:
        return service_get(tenant=self.tenant, slug=self.kwargs["service"])
