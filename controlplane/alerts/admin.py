"""Operator view of alerts and rules: read-only, tenants set rules through the API."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from controlplane.alerts.models import Alert, AlertRules


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("service", "kind", "subject", "state", "value_latest", "threshold", "raised_at", "cleared_at")
    list_filter = ("state", "kind", "service__tenant")
    list_select_related = ("service__tenant",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Alert | None = None) -> bool:
        return False


@admin.register(AlertRules)
class AlertRulesAdmin(admin.ModelAdmin):
    list_display = ("service", "window_s", "p99_ms", "error_rate", "timeout_rate", "drift", "accuracy_drop")
    list_select_related = ("service__tenant",)
    exclude = ("webhook_secret",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AlertRules | None = None) -> bool:
        return False
