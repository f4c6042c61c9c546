"""Operator view of labels: read-only, they come from clients through the API."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from controlplane.feedback.models import Feedback


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ("request_id", "service", "label", "created_at")
    list_filter = ("service__tenant",)
    search_fields = ("request_id",)
    list_select_related = ("service__tenant",)
    readonly_fields = ("service", "request_id", "label", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Feedback | None = None) -> bool:
        return False
