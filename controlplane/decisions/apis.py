"""Decision lookup: why a request got the answer it got, and what every other model said."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from controlplane.api.views import TenantApiView
from controlplane.decisions.selectors import decision_get
from controlplane.decisions.serializers import DecisionOutSerializer


class DecisionApi(TenantApiView):
    required_scopes = {"GET": "read"}

    @extend_schema(
        responses=DecisionOutSerializer,
        tags=["decisions"],
        description=(
            "The Decision record of one request: the Result plus every candidate, late scores and "
            "shadows included. Records appear a moment after the answer and are kept for a retention "
            "period (RDV_DECISION_RETENTION_DAYS); unknown or expired → 404."
        ),
    )
    def get(self, request: Request, tenant: str, service: str, request_id: str) -> Response:
        record = decision_get(service=self.get_service(), request_id=request_id)
        return Response(DecisionOutSerializer(record).data)
