"""GET …/services/S/metrics?window=: per deployment, what the decisions of the window say about it."""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from controlplane.api.views import TenantApiView
from controlplane.errors import InvalidInput
from controlplane.monitoring.selectors import service_metrics
from controlplane.monitoring.serializers import MetricsOutSerializer
from controlplane.monitoring.windows import WindowError, window_parse

DEFAULT_WINDOW = "1h"


class MetricsApi(TenantApiView):
    required_scopes = {"GET": "read"}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "window", str, pattern=r"^[1-9][0-9]{0,5}[mhd]$",
                description=f"`<n>m`, `<n>h` or `<n>d` (default `{DEFAULT_WINDOW}`), at most "
                "RDV_ROLLUP_HOUR_RETENTION_DAYS: the last n minutes, the current one included.",
            )
        ],
        responses=MetricsOutSerializer,
        tags=["monitoring"],
        description=(
            "Per deployment (model, version, role) that took part in the window's decisions: counts, scoring "
            "latency percentiles (a mergeable sketch, within `relative_accuracy`), error, timeout, fallback and "
            "win rates, agreement with the returned answer; quality fields stay null until labels are joined. "
            "Rolled up from the decisions topic by `manage.py consume_rollups`, a few seconds behind."
        ),
    )
    def get(self, request: Request, tenant: str, service: str) -> Response:
        service_row = self.get_service()
        text = request.query_params.get("window", DEFAULT_WINDOW)
        try:
            minutes = window_parse(text, maximum=timedelta(days=settings.RDV_ROLLUP_HOUR_RETENTION_DAYS))
        except WindowError as exc:
            raise InvalidInput({"window": [str(exc)]}) from exc
        metrics = service_metrics(
            service=service_row, minutes=minutes, now=time.time(),
            minute_retention_s=settings.RDV_ROLLUP_MINUTE_RETENTION_HOURS * 3600,
        )
        return Response(MetricsOutSerializer({"window": text, "metrics": metrics}).data)
