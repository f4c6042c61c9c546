"""GET …/drift?window=: drift of a service's inputs over a window, one series per feature."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from controlplane.api.schema import ERROR_RESPONSE
from controlplane.api.views import TenantApiView
from controlplane.drift.selectors import DriftSeries, FeatureDriftPoint, drift_series
from controlplane.drift.serializers import DriftOutSerializer, DriftWindowQuerySerializer


def _point(point: FeatureDriftPoint) -> dict[str, Any]:
    return {"at": point.at, "psi": point.score, "ks": point.ks, "flagged": point.flagged, "requests": point.requests}


def _body(found: DriftSeries) -> dict[str, Any]:
    reference = found.reference
    return {
        "window": found.window,
        "reference": None if reference is None else {
            "start": reference.first_bucket,
            "end": reference.end,
            "requests": reference.count,
        },
        "features": [
            {
                "feature": feature.feature,
                "kind": feature.kind,
                "threshold": feature.threshold,
                "score": feature.latest.score,
                "flagged": feature.latest.flagged,
                "series": [_point(point) for point in feature.series],
            }
            for feature in found.features
        ],
    }


class DriftApi(TenantApiView):
    required_scopes = {"GET": "read"}

    @extend_schema(
        parameters=[DriftWindowQuerySerializer],
        responses={200: DriftOutSerializer, 400: OpenApiResponse(ERROR_RESPONSE, "A window that is not a duration.")},
        tags=["monitoring"],
        description=(
            "Per input feature, the drift of the service's inputs against its reference, one point per "
            "bucket (RDV_DRIFT_WINDOW_SECONDS on the runners) that ended within `window`: PSI, KS for "
            "numeric features, and whether the bucket is flagged (PSI above the threshold, or KS rejecting). "
            "Every canary runner's report of a bucket is merged into its one point."
        ),
    )
    def get(self, request: Request, tenant: str, service: str) -> Response:
        service_row = self.get_service()
        query = DriftWindowQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = drift_series(service=service_row, window=query.validated_data["window"])
        return Response(DriftOutSerializer(_body(found)).data)
