"""Operator views of services and routing; any routing edit in the admin publishes a new revision."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import ForeignKey
from django.forms import ModelChoiceField
from django.http import HttpRequest

from controlplane.registry.models import ModelVersion
from controlplane.routing.models import ConfigRevision, Deployment, Service
from controlplane.routing.services import config_publish, service_topics_ensure


class DeploymentInline(admin.TabularInline):
    model = Deployment
    extra = 0
    fields = ("version", "role", "weight", "rank", "pool")

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField:
        if db_field.name == "version":
            # Only ready versions are deployable; the model's clean() also checks the tenant.
            kwargs["queryset"] = ModelVersion.objects.filter(status=ModelVersion.Status.READY).select_related(
                "model__tenant"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("slug", "tenant", "name", "deadline_ms", "partitions", "created_at")
    list_filter = ("tenant",)
    search_fields = ("slug", "name")
    inlines = [DeploymentInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Service | None = None) -> tuple[str, ...]:
        # Slugs name the topics and the partition count is baked into them: fixed after creation.
        return ("tenant", "slug", "partitions") if obj else ()

    def save_model(self, request: HttpRequest, obj: Service, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            service_topics_ensure(service=obj)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # The admin commits after this returns, and publishing happens on commit: a broker failure is
        # logged and leaves the revision's published_at empty rather than turning the save into a 500.
        revision = config_publish(
            service=form.instance, actor=f"admin:{request.user.get_username()}", robust=True
        )
        messages.info(
            request, f"Revision {revision.number} of {form.instance} is published to the workers on save."
        )


@admin.register(ConfigRevision)
class ConfigRevisionAdmin(admin.ModelAdmin):
    list_display = ("service", "number", "actor", "created_at", "published_at")
    list_filter = ("service__tenant",)
    fields = ("service", "number", "actor", "created_at", "published_at", "snapshot")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ConfigRevision | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ConfigRevision | None = None) -> bool:
        return False
