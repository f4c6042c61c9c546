"""GET …/audit: the tenant's write history, newest first."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema

from controlplane.api.views import TenantListApiView
from controlplane.audit.models import AuditEvent
from controlplane.audit.selectors import audit_list
from controlplane.audit.serializers import AuditEventSerializer


@extend_schema(
    tags=["audit"],
    parameters=[
        OpenApiParameter("action", str, description="Only this action, e.g. `service.promote`."),
        OpenApiParameter("target", str, description="Only this target, e.g. `service:iris`."),
    ],
)
class AuditApi(TenantListApiView):
    # ``admin`` implies ``read``: either scope may read the log.
    required_scopes = {"GET": "read"}
    serializer_class = AuditEventSerializer

    def get_queryset(self) -> QuerySet[AuditEvent]:
        params = self.request.query_params
        return audit_list(tenant=self.tenant, action=params.get("action"), target=params.get("target"))
