"""POST …/feedback: ground truth for earlier requests; GET …/quality: the league table it makes."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from controlplane.api.schema import ERROR_RESPONSE
from controlplane.api.views import TenantApiView
from controlplane.feedback.quality import quality_table
from controlplane.feedback.serializers import (
    FeedbackItemSerializer,
    FeedbackOutSerializer,
    QualityOutSerializer,
    QualityQuerySerializer,
    window_parse,
)
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
        description=(
            "Labels for earlier requests, before or after their decision is stored (they are joined when "
            "read). A second label for the same request replaces the first, so sending a batch again is "
            "harmless. A list is taken whole or not at all: a 400 lists, item by item, what is wrong "
            "(`{}` for the good ones)."
        ),
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


class QualityApi(TenantApiView):
    required_scopes = {"GET": "read"}

    @extend_schema(
        parameters=[QualityQuerySerializer],
        responses=QualityOutSerializer,
        tags=["feedback"],
        description=(
            "The league table: every version that scored the labelled decisions of the window (champions, "
            "fallbacks, challengers, canaries), with accuracy and macro F1 for classifiers (`{label}` outputs) "
            "or MAE and RMSE for regressors (`{value}` outputs), best first. The window counts decisions by "
            "when they were made; a label joins its decision while the decision is kept "
            "(RDV_DECISION_RETENTION_DAYS)."
        ),
    )
    def get(self, request: Request, tenant: str, service: str) -> Response:
        service_row = self.get_service()
        query = QualityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        window = query.validated_data["window"]
        until = timezone.now()
        since = until - window_parse(window)
        table = quality_table(service=service_row, since=since, until=until)
        body = {
            "window": window,
            "since": since,
            "until": until,
            "labelled_requests": table.labelled_requests,
            "versions": table.versions,
        }
        return Response(QualityOutSerializer(body).data)
