"""Services: plain CRUD on the router; every write goes through a service function that audits it."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.request import Request
from rest_framework.response import Response

from controlplane.api.schema import ERROR_RESPONSE
from controlplane.api.views import TenantViewSet
from controlplane.routing.models import Service
from controlplane.routing.serializers import ServiceInSerializer, ServiceOutSerializer, ServiceUpdateSerializer
from controlplane.routing.services import service_create, service_delete, service_update


@extend_schema_view(
    create=extend_schema(
        request=ServiceInSerializer,
        responses={201: ServiceOutSerializer, 409: OpenApiResponse(ERROR_RESPONSE, "The slug is taken.")},
        description="Create the service, its topics and revision 1 (no deployments yet).",
    ),
    partial_update=extend_schema(
        request=ServiceUpdateSerializer,
        responses=ServiceOutSerializer,
        description="Change name, input schema, deadline or external state; the last two publish a revision.",
    ),
    destroy=extend_schema(description="Delete the service; its config key is tombstoned so workers drop it."),
)
@extend_schema(tags=["services"])
class ServiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    serializer_class = ServiceOutSerializer
    lookup_field = "slug"
    lookup_url_kwarg = "service"
    lookup_value_converter = "slug"
    required_scopes = {"GET": "read", "POST": "deploy", "PATCH": "deploy", "DELETE": "deploy"}
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Service]:
        return Service.objects.filter(tenant=self.tenant).select_related("tenant").order_by("slug")

    def get_object(self) -> Service:
        return self.get_service()

    def create(self, request: Request, tenant: str) -> Response:
        body = ServiceInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        service = service_create(tenant=self.tenant, actor=self.actor, **body.validated_data)
        return Response(ServiceOutSerializer(service).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, tenant: str, service: str) -> Response:
        body = ServiceUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        updated = service_update(service=self.get_service(), changes=body.validated_data, actor=self.actor)
        return Response(ServiceOutSerializer(updated).data)

    def destroy(self, request: Request, tenant: str, service: str) -> Response:
        service_delete(service=self.get_service(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)
