"""Operator views of tenants and tokens; token secrets are shown once, in a message, never stored."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from controlplane.tenancy.models import ApiToken, Membership, Tenant
from controlplane.tenancy.services import token_create, token_revoke


class ApiTokenInline(admin.TabularInline):
    model = ApiToken
    extra = 0
    can_delete = False
    fields = ("name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        return False


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "trusted_code", "created_at")
    list_filter = ("trusted_code",)
    search_fields = ("slug", "name")
    inlines = [ApiTokenInline]
    actions = ["create_token"]

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None) -> tuple[str, ...]:
        # The slug is part of topic names and config keys: renaming would orphan them.
        return ("slug", "created_at") if obj else ("created_at",)

    @admin.action(description="Create an API token (predict, read, deploy) and show its secret once")
    def create_token(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            _, secret = token_create(
                tenant=tenant,
                name=f"admin:{request.user.get_username()}",
                scopes=["predict", "read", "deploy"],
                actor=f"admin:{request.user.get_username()}",
            )
            messages.warning(request, f"Token for {tenant.slug} (copy it now, it is not shown again): {secret}")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("tenant", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("tenant",)
    fields = ("tenant", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            token_revoke(token=token, actor=f"admin:{request.user.get_username()}")
        messages.success(request, f"Revoked {queryset.count()} token(s).")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Who may see which tenant in the console (*extension (console)*); staff users see every tenant."""

    list_display = ("user", "tenant", "role", "created_at")
    list_filter = ("role", "tenant")
    search_fields = ("user__username", "tenant__slug")
    autocomplete_fields = ("user", "tenant")
