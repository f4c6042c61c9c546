"""Routing endpoints: the routing table, promote and rollback, the live config and its history."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from controlplane.api.schema import ERROR_RESPONSE
from controlplane.api.views import TenantApiView, TenantListApiView
from controlplane.errors import NotFound
from controlplane.routing.models import ConfigRevision
from controlplane.routing.selectors import deployments_list, revision_latest
from controlplane.routing.serializers import (
    ConfigOutSerializer,
    DeploymentsInSerializer,
    DeploymentsOutSerializer,
    PromoteInSerializer,
    RevisionHistorySerializer,
    RevisionOutSerializer,
    RollbackInSerializer,
    RollbackOutSerializer,
)
from controlplane.routing.services import deployment_promote, deployments_replace, routing_rollback

_NOT_READY = OpenApiResponse(ERROR_RESPONSE, "A version is not ready (or no longer exists): routing unchanged.")


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
        responses={200: RevisionOutSerializer, 409: _NOT_READY},
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
            actor=self.actor,
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
                    "reason": latest.reason,
                    "created_at": latest.created_at,
                    "published_at": latest.published_at,
                    "snapshot": latest.snapshot,
                }
            ).data
        )


class PromoteApi(TenantApiView):
    required_scopes = {"POST": "deploy"}

    @extend_schema(
        request=PromoteInSerializer,
        responses={200: RevisionOutSerializer, 409: _NOT_READY},
        tags=["routing"],
        description=(
            "Blue-green switch: the version becomes the only champion (weight 100), the previous champions "
            "become fallbacks ranked 1..n (heaviest first, before the existing fallbacks), other rows stay. "
            "Unknown model or version → 400; not `ready` → 409 and the routing is unchanged."
        ),
    )
    def post(self, request: Request, tenant: str, service: str) -> Response:
        service_row = self.get_service()
        body = PromoteInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        revision = deployment_promote(service=service_row, actor=self.actor, **body.validated_data)
        return Response({"revision": revision.number})


class RollbackApi(TenantApiView):
    required_scopes = {"POST": "deploy"}

    @extend_schema(
        request=RollbackInSerializer,
        responses={200: RollbackOutSerializer, 409: _NOT_READY},
        tags=["routing"],
        description=(
            "Republish an earlier revision's routing table as a new revision: the given `revision`, or by "
            "default the latest earlier one whose routing differs from the live one. Deadline and external "
            "state are not rolled back. Its versions must still exist and be ready, else 409."
        ),
    )
    def post(self, request: Request, tenant: str, service: str) -> Response:
        service_row = self.get_service()
        body = RollbackInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        revision, source = routing_rollback(
            service=service_row, revision=body.validated_data.get("revision"), actor=self.actor
        )
        return Response({"revision": revision.number, "restored_from": source.number})


@extend_schema(tags=["routing"], description="The config history, newest first: who changed what, and when.")
class RevisionsApi(TenantListApiView):
    required_scopes = {"GET": "read"}
    serializer_class = RevisionHistorySerializer

    def get_queryset(self) -> QuerySet[ConfigRevision]:
        return ConfigRevision.objects.filter(service=self.get_service()).order_by("-number")
