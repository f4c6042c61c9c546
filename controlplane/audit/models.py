"""One row per write: append-only, so the history of a tenant's routing can be reconstructed and blamed."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from controlplane.tenancy.models import Tenant


class AuditEvent(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="audit_events")
    # A string, not a foreign key: the token or user may be revoked or deleted, the record must stay.
    actor = models.CharField(max_length=255)
    action = models.CharField(max_length=64, db_index=True)
    # ``service:iris``, ``version:iris/3``, ``token:ab12cd34``: readable after the target is gone.
    target = models.CharField(max_length=255)
    diff = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="audit_tenant_recent")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.actor} {self.action} {self.target}"
