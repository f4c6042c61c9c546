"""POST …/feedback: ground truth for earlier requests, from whoever calls predict or deploys."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from controlplane.api.schema import ERROR_RESPONSE
from controlplane.api.views import TenantApiView
from controlplane.feedback.serializers import FeedbackItemSerializer, FeedbackOutSerializer
from controlplane.feedback.services import feedback_store


class FeedbackApi(TenantApiView):
    required_scopes = {"POST": ("predict", "deploy")}

    @extend_schema(
        request=PolymorphicProxySerializer(
            component_name="FeedbackIn",
            serializers=[FeedbackItemSerializer, FeedbackItemSerializer(many=True)],
            resource_type_field_name=None,
            many=False,
        ),
        responses={
            202: FeedbackOutSerializer,
            413: OpenApiResponse(ERROR_RESPONSE, "More labels than RDV_FEEDBACK_MAX_ITEMS in one call."),
        },
        tags=["feedback"],
        description="Labels for earlier requests; a second label for the same request replaces the first.",
    )
    def post(self, request: Request, tenant: str, service: str) -> Response:
        service_row = self.get_service()
        data = request.data
        if not isinstance(data, list | dict):
            raise serializers.ValidationError("send one {request_id, label} object or a list of them")
        many = isinstance(data, list)
        body = FeedbackItemSerializer(data=data, many=many)
        body.is_valid(raise_exception=True)
        items = body.validated_data if many else [body.validated_data]
        accepted = feedback_store(service=service_row, items=items)
        return Response(FeedbackOutSerializer({"accepted": accepted}).data, status=status.HTTP_202_ACCEPTED)
