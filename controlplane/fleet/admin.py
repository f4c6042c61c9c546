from django.contrib import admin

from controlplane.fleet.models import RevisionCheck, VersionPlacement, WorkerReport


class PlacementInline(admin.TabularInline):
    model = VersionPlacement
    extra = 0
    readonly_fields = ["tenant", "model", "version", "sha256", "state", "error"]
    can_delete = False


@admin.register(WorkerReport)
class WorkerReportAdmin(admin.ModelAdmin):
    list_display = ["worker", "kind", "pool", "at", "received_at"]
    list_filter = ["kind", "pool"]
    readonly_fields = ["worker", "kind", "pool", "at", "received_at", "interval_s", "revisions", "versions_digest"]
    inlines = [PlacementInline]


@admin.register(RevisionCheck)
class RevisionCheckAdmin(admin.ModelAdmin):
    list_display = ["revision", "state", "rolled_back_by", "decided_at"]
    list_filter = ["state"]
    readonly_fields = ["revision", "state", "reason", "rolled_back_by", "decided_at"]
