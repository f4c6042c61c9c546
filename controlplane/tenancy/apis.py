"""The tenant itself and its API tokens; managing tokens needs the ``admin`` scope."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.request import Request
from rest_framework.response import Response

from controlplane.api.views import TenantApiView, TenantViewSet
from controlplane.tenancy.kafka_access import tenant_kafka_credentials_issue, tenant_kafka_credentials_revoke
from controlplane.tenancy.models import ApiToken
from controlplane.tenancy.selectors import token_get
from controlplane.tenancy.serializers import (
    KafkaCredentialsSerializer,
    TenantOutSerializer,
    TokenCreatedSerializer,
    TokenInSerializer,
    TokenOutSerializer,
)
from controlplane.tenancy.services import token_create, token_revoke


class TenantApi(TenantApiView):
    required_scopes = {"GET": "read"}

    @extend_schema(responses=TenantOutSerializer, tags=["tenants"])
    def get(self, request: Request, tenant: str) -> Response:
        return Response(TenantOutSerializer(self.tenant).data)


@extend_schema_view(
    list=extend_schema(description="Every token of the tenant, revoked ones included; secrets are never shown."),
    create=extend_schema(
        request=TokenInSerializer,
        responses={201: TokenCreatedSerializer},
        description="Create a token; the answer's `token` is the secret, shown this once.",
    ),
    destroy=extend_schema(description="Revoke the token (idempotent); it stops authenticating at once."),
)
@extend_schema(tags=["tenants"])
class TokenViewSet(mixins.ListModelMixin, TenantViewSet):
    serializer_class = TokenOutSerializer
    lookup_url_kwarg = "token_id"
    lookup_value_converter = "int"
    required_scopes = {"GET": "admin", "POST": "admin", "DELETE": "admin"}

    def get_queryset(self) -> QuerySet[ApiToken]:
        return ApiToken.objects.filter(tenant=self.tenant).order_by("-created_at", "-pk")

    def create(self, request: Request, tenant: str) -> Response:
        body = TokenInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        token, secret = token_create(tenant=self.tenant, actor=self.actor, **body.validated_data)
        token.token = secret  # type: ignore[attr-defined]
        return Response(TokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, tenant: str, token_id: int) -> Response:
        token_revoke(token=token_get(tenant=self.tenant, token_id=token_id), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class KafkaCredentialsApi(TenantApiView):
    """The tenant's own Kafka principal, for producing requests and consuming results directly."""

    required_scopes = {"POST": "admin", "DELETE": "admin"}

    @extend_schema(
        request=None,
        responses={201: KafkaCredentialsSerializer},
        tags=["tenants"],
        description=(
            "Issue (or rotate) the tenant's SCRAM credentials: the `password` is shown this once and the "
            "previous one stops working. The principal may write its services' `requests` topics, read "
            "their `results` topics and use consumer groups starting with `group_prefix`."
        ),
    )
    def post(self, request: Request, tenant: str) -> Response:
        credentials = tenant_kafka_credentials_issue(tenant=self.tenant, actor=self.actor)
        return Response(KafkaCredentialsSerializer(credentials).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None}, tags=["tenants"],
                   description="Delete the tenant's Kafka credentials (idempotent).")
    def delete(self, request: Request, tenant: str) -> Response:
        tenant_kafka_credentials_revoke(tenant=self.tenant, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)
