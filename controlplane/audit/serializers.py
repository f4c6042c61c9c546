"""Audit entries as the API answers them."""

from __future__ import annotations

from rest_framework import serializers

from controlplane.audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    diff = serializers.JSONField(
        help_text="`{before, after, revision}` for routing changes; `created`, `changed` or `deleted` fields otherwise."
    )

    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "actor", "action", "target", "diff"]
        read_only_fields = fields
