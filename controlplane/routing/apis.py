"""Routing endpoints: read and replace a service's routing table, read its live config."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from controlplane.api.views import TenantApiView
from controlplane.errors import NotFound
from controlplane.routing.selectors import deployments_list, revision_latest
from controlplane.routing.serializers import (
    ConfigOutSerializer,
    DeploymentsInSerializer,
    DeploymentsOutSerializer,
    RevisionOutSerializer,
)
from controlplane.routing.services import deployments_replace


class DeploymentsApi(TenantApiView):
    required_scopes = {"GET": "read", "PUT": "deploy"}

    @extend_schema(responses=DeploymentsOutSerializer, tags=["routing"])
    def get(self, request: Request, tenant: str, service: str) -> Response:
        service_row = self.get_service()
        latest = revision_latest(service=service_row)
        return Response(
            {
                "revision": latest.number if latest else None,
                "deployments": deployments_list(service=service_row),
            }
        )

    @extend_schema(
        request=DeploymentsInSerializer,
        responses=RevisionOutSerializer,
        tags=["routing"],
        description="Replace the routing table atomically. A version that is not `ready` → 409, unchanged.",
    )
    def put(self, request: Request, tenant: str, service: str) -> Response:
        service_row = self.get_service()
        body = DeploymentsInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        revision = deployments_replace(
            service=service_row,
            deployments=body.validated_data["deployments"],
            actor=f"token:{request.auth.prefix}",
        )
        return Response({"revision": revision.number})


class ConfigApi(TenantApiView):
    required_scopes = {"GET": "read"}

    @extend_schema(responses=ConfigOutSerializer, tags=["routing"])
    def get(self, request: Request, tenant: str, service: str) -> Response:
        service_row = self.get_service()
        latest = revision_latest(service=service_row)
        if latest is None:
            raise NotFound(f"service {service_row.slug!r} has no config revision yet")
        return Response(
            ConfigOutSerializer(
                {
                    "revision": latest.number,
                    "actor": latest.actor,
                    "created_at": latest.created_at,
                    "published_at": latest.published_at,
                    "snapshot": latest.snapshot,
                }
            ).data
        )
