"""Operator view of decision records: read-only, they are written by the decisions consumer only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from controlplane.decisions.models import DecisionRecord


@admin.register(DecisionRecord)
class DecisionRecordAdmin(admin.ModelAdmin):
    list_display = ("request_id", "service", "status", "model", "version", "reason", "latency_ms", "decided_at")
    list_filter = ("status", "service__tenant")
    search_fields = ("request_id",)
    list_select_related = ("service__tenant",)
    readonly_fields = [field.name for field in DecisionRecord._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: DecisionRecord | None = None) -> bool:
        return False
