"""Operator view of the audit log: read-only, entries are written by services only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from controlplane.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "tenant", "actor", "action", "target")
    list_filter = ("action", "tenant")
    search_fields = ("actor", "target")
    list_select_related = ("tenant",)
    fields = ("created_at", "tenant", "actor", "action", "target", "diff")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
