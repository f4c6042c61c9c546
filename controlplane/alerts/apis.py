"""GET …/alerts (what fired, newest first) and GET, PUT …/alert-rules (the thresholds and webhook)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from controlplane.alerts.models import Alert
from controlplane.alerts.selectors import alert_rules_get, alerts_list
from controlplane.alerts.serializers import AlertOutSerializer, AlertRulesInSerializer, AlertRulesOutSerializer
from controlplane.alerts.services import alert_rules_set
from controlplane.api.views import TenantApiView, TenantListApiView

STATES = (Alert.FIRING, Alert.RESOLVED)


class AlertsApi(TenantListApiView):
    required_scopes = {"GET": "read"}
    serializer_class = AlertOutSerializer

    def get_queryset(self):  # noqa: ANN201
        state = self.request.query_params.get("state")
        if state is not None and state not in STATES:
            raise serializers.ValidationError({"state": [f"one of {', '.join(STATES)}"]})
        return alerts_list(service=self.get_service(), state=state)

    @extend_schema(
        parameters=[OpenApiParameter("state", OpenApiTypes.STR, enum=list(STATES), required=False)],
        tags=["monitoring"],
        description="The service's alerts, newest first: firing ones and resolved ones kept for "
        "RDV_ALERT_RETENTION_DAYS.",
    )
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().get(request, *args, **kwargs)


class AlertRulesApi(TenantApiView):
    required_scopes = {"GET": "read", "PUT": "deploy"}

    @extend_schema(
        responses=AlertRulesOutSerializer,
        tags=["monitoring"],
        description="The thresholds watched for this service (nothing, until set).",
    )
    def get(self, request: Request, tenant: str, service: str) -> Response:
        rules = alert_rules_get(service=self.get_service())
        return Response(AlertRulesOutSerializer(rules).data)

    @extend_schema(
        request=AlertRulesInSerializer,
        responses=AlertRulesOutSerializer,
        tags=["monitoring"],
        description="Replace the rules; a field left out takes its default (a threshold: not watched). "
        "A new webhook URL (or `rotate_secret`) makes a new signing secret, shown in this answer only. "
        "A URL resolving to a loopback, private, link-local or reserved address is refused (400).",
    )
    def put(self, request: Request, tenant: str, service: str) -> Response:
        body = AlertRulesInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rules, secret = alert_rules_set(service=self.get_service(), data=dict(body.validated_data), actor=self.actor)
        data = dict(AlertRulesOutSerializer(rules).data)
        data["webhook_secret"] = secret
        return Response(data)
