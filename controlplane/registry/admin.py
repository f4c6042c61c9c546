"""Operator views of the registry; uploads in the admin go through ``version_create`` like the API
(so they are validated in the background too, and code formats need a tenant marked ``trusted_code``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from controlplane.errors import InvalidInput
from controlplane.registry.models import Model, ModelVersion
from controlplane.registry.services import version_create
from controlplane.registry.trust import format_upload_check

_VERSION_FIELDS = ("number", "format", "status", "sha256", "size", "created_at")


class ModelVersionInline(admin.TabularInline):
    model = ModelVersion
    extra = 0
    can_delete = False
    show_change_link = True
    fields = _VERSION_FIELDS
    readonly_fields = _VERSION_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ("slug", "tenant", "name", "created_at")
    list_filter = ("tenant",)
    search_fields = ("slug", "name")
    inlines = [ModelVersionInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> tuple[str, ...]:
        return ("tenant", "slug") if obj else ()


class ModelVersionAddForm(forms.ModelForm):
    class Meta:
        model = ModelVersion
        fields = ("model", "artifact", "format", "metadata")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        model, format = cleaned.get("model"), cleaned.get("format")
        if model is not None and format:
            try:
                format_upload_check(tenant=model.tenant, format=format)
            except InvalidInput as exc:
                # The operator sees the same rule as the API, on the form: trust the tenant first.
                message = f"{exc.detail['format']} (tick trusted code on the tenant)"
                raise forms.ValidationError({"format": message}) from exc
        return cleaned


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("model", "number", "format", "status", "sha256", "size", "created_at")
    list_filter = ("status", "format", "model__tenant")
    search_fields = ("model__slug", "sha256")
    readonly_fields = (
        "model",
        "number",
        "artifact",
        "format",
        "metadata",
        "sha256",
        "size",
        "status",
        "report",
        "validation_queued_at",
        "validation_attempts",
        "validated_at",
        "created_at",
    )

    def get_form(self, request: HttpRequest, obj: ModelVersion | None = None, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ModelVersionAddForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: ModelVersion | None = None) -> tuple[str, ...]:
        # Versions are immutable: runners cache artifacts by sha256 and revisions point at them.
        return self.readonly_fields if obj else ()

    def get_fields(self, request: HttpRequest, obj: ModelVersion | None = None) -> Any:
        return self.readonly_fields if obj else ModelVersionAddForm.Meta.fields

    def save_model(self, request: HttpRequest, obj: ModelVersion, form: Any, change: bool) -> None:
        if change:
            return
        created = version_create(
            model=form.cleaned_data["model"],
            artifact_file=form.cleaned_data["artifact"],
            format=form.cleaned_data["format"],
            metadata=form.cleaned_data["metadata"] or {},
            actor=f"admin:{request.user.get_username()}",
        )
        # The admin goes on to log and redirect using ``obj``; make it the row the service created.
        obj.pk = created.pk
        obj.refresh_from_db()
