"""Shapes of the readiness endpoint (DESIGN.md §6)."""

from __future__ import annotations

from rest_framework import serializers

STATES = ["ready", "pending", "failed", "rolled_back", "stuck", "superseded"]


class ReadinessQuerySerializer(serializers.Serializer):
    revision = serializers.IntegerField(min_value=1, required=False, help_text="Default: the live revision.")


class WorkerCountsSerializer(serializers.Serializer):
    live = serializers.IntegerField(help_text="Workers whose last report is recent (RDV_STATUS_STALE_S).")
    applied = serializers.IntegerField(help_text="Live workers running this revision of the service, or a later one.")
    runners_live = serializers.IntegerField()
    rendezvous_live = serializers.IntegerField()


class PlacementSerializer(serializers.Serializer):
    model = serializers.CharField()
    version = serializers.IntegerField()
    role = serializers.CharField()
    pool = serializers.CharField()
    runners_live = serializers.IntegerField(help_text="Live runners of the pool.")
    runners_applied = serializers.IntegerField(help_text="Of those, how many run this revision.")
    runners_ready = serializers.IntegerField()
    runners_failed = serializers.IntegerField()
    states = serializers.DictField(child=serializers.CharField(), help_text="Runner id → loading, ready, failed, idle.")
    errors = serializers.DictField(child=serializers.CharField(), help_text="Runner id → its load error.")


class ReadinessOutSerializer(serializers.Serializer):
    revision = serializers.IntegerField()
    live = serializers.BooleanField(help_text="Whether this is the service's latest revision.")
    state = serializers.ChoiceField(
        choices=STATES,
        help_text=(
            "`ready`: every champion and fallback is usable on a live runner of its pool; `pending`: not yet; "
            "`failed`: a runner reports a load failure or the time limit passed (the automatic fallback rolls "
            "it back within seconds); `rolled_back`: it was (see `rolled_back_by`); `stuck`: failed, and the "
            "earlier routing could not be restored; `superseded`: a later revision replaced it before a verdict."
        ),
    )
    detail = serializers.CharField(allow_blank=True, help_text="Why, in words.")
    rolled_back_by = serializers.IntegerField(allow_null=True)
    published_at = serializers.DateTimeField(allow_null=True)
    timeout_s = serializers.IntegerField(help_text="How long a revision may take to become ready (seconds).")
    workers = WorkerCountsSerializer()
    deployments = PlacementSerializer(many=True)
