"""Operator view of rollouts: read-only; they change through the API (start, pause, resume, abort) and analysis."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from controlplane.rollouts.models import Rollout


@admin.register(Rollout)
class RolloutAdmin(admin.ModelAdmin):
    list_display = ("id", "service", "version", "strategy", "status", "step_weight", "reason", "created_at")
    list_filter = ("status", "strategy", "service__tenant")
    list_select_related = ("service__tenant", "version__model__tenant")
    readonly_fields = [field.name for field in Rollout._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Rollout | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Rollout | None = None) -> bool:
        return False
