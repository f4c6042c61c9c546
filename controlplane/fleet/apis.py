"""GET …/services/S/readiness: what a CI pipeline polls after a routing change."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from controlplane.api.views import TenantApiView
from controlplane.errors import NotFound
from controlplane.fleet.selectors import service_readiness
from controlplane.fleet.serializers import ReadinessOutSerializer, ReadinessQuerySerializer
from controlplane.routing.models import ConfigRevision
from controlplane.routing.selectors import revision_latest


class ReadinessApi(TenantApiView):
    required_scopes = {"GET": "read"}

    @extend_schema(
        parameters=[OpenApiParameter("revision", int, description="Default: the live revision.")],
        responses=ReadinessOutSerializer,
        tags=["routing"],
        description=(
            "Whether a routing revision is live on the workers, from their status reports: per deployment, how "
            "many live runners of its pool run the revision and hold the version ready or failed. A revision "
            "whose champion or fallback fails to load, or is not ready within `timeout_s`, is rolled back "
            "automatically (`state: rolled_back`, the reason in `detail`)."
        ),
    )
    def get(self, request: Request, tenant: str, service: str) -> Response:
        service_row = self.get_service()
        query = ReadinessQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        latest = revision_latest(service=service_row)
        if latest is None:
            raise NotFound(f"service {service_row.slug!r} has no config revision yet")
        number = query.validated_data.get("revision")
        revision = latest
        if number is not None:
            revision = ConfigRevision.objects.filter(service=service_row, number=number).first()
            if revision is None:
                raise NotFound(f"service {service_row.slug!r} has no revision {number}")
        body = service_readiness(service=service_row, revision=revision, latest=latest)
        return Response(ReadinessOutSerializer(body).data)
