"""Input and output shapes of the routing endpoints (DESIGN.md §6); rules live in services.py."""

from __future__ import annotations

from rest_framework import serializers

from contracts.config import DEFAULT_POOL
from contracts.roles import ROLES
from controlplane.routing.models import ConfigRevision, Service
from controlplane.tenancy.models import slug_validator


class DeploymentSerializer(serializers.Serializer):
    model = serializers.SlugField(max_length=63)
    version = serializers.IntegerField(min_value=1)
    role = serializers.ChoiceField(choices=ROLES)
    weight = serializers.IntegerField(min_value=0, default=100, help_text="Relative, among champions.")
    rank = serializers.IntegerField(default=0, help_text="Fallback order: rank 1 is tried first.")
    pool = serializers.SlugField(max_length=63, default=DEFAULT_POOL)
    last_resort = serializers.BooleanField(
        default=False, help_text="Canaries only: may answer after every fallback failed."
    )


class DeploymentsInSerializer(serializers.Serializer):
    deployments = DeploymentSerializer(many=True)


class DeploymentsOutSerializer(serializers.Serializer):
    revision = serializers.IntegerField(allow_null=True, help_text="The latest config revision.")
    deployments = DeploymentSerializer(many=True)


class RevisionOutSerializer(serializers.Serializer):
    revision = serializers.IntegerField()


class ConfigOutSerializer(serializers.Serializer):
    revision = serializers.IntegerField()
    actor = serializers.CharField()
    created_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)
    snapshot = serializers.JSONField(help_text="The ServiceConfig the workers run on.")


class RevisionHistorySerializer(serializers.ModelSerializer):
    revision = serializers.IntegerField(source="number")
    snapshot = serializers.JSONField(help_text="The ServiceConfig the workers ran on.")

    class Meta:
        model = ConfigRevision
        fields = ["revision", "actor", "created_at", "published_at", "snapshot"]
        read_only_fields = fields


class PromoteInSerializer(serializers.Serializer):
    model = serializers.SlugField(max_length=63)
    version = serializers.IntegerField(min_value=1)


class RollbackInSerializer(serializers.Serializer):
    revision = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="Default: the latest earlier, different routing."
    )


class RollbackOutSerializer(serializers.Serializer):
    revision = serializers.IntegerField(help_text="The new revision.")
    restored_from = serializers.IntegerField(help_text="The revision whose routing it republished.")


class ServiceOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["slug", "name", "input_schema", "deadline_ms", "external_state", "partitions", "created_at"]
        read_only_fields = fields


EXTERNAL_STATE_HELP = (
    "Values the gateway injects once per request, before fan-out: `{\"providers\": [...]}` with providers "
    "`{type: clock, fields, timezone}`, `{type: lookup, key, table, default}`, `{type: redis, key, prefix, fields, "
    "default}` (DESIGN.md §4). Injected names must not be inputs."
)


class ServiceUpdateSerializer(serializers.Serializer):
    """PATCH: any of these; slug and partitions name the topics and never change."""

    name = serializers.CharField(max_length=200, required=False)
    input_schema = serializers.DictField(required=False, help_text="A JSON Schema (draft 2020-12) for `inputs`.")
    deadline_ms = serializers.IntegerField(min_value=1, max_value=60_000, required=False)
    external_state = serializers.DictField(required=False, help_text=EXTERNAL_STATE_HELP)


class ServiceInSerializer(ServiceUpdateSerializer):
    """POST: a new service; `slug` names its topics and never changes."""

    slug = serializers.CharField(max_length=63, validators=[slug_validator])
    name = serializers.CharField(max_length=200)
    input_schema = serializers.DictField(help_text="A JSON Schema (draft 2020-12) for `inputs`.")
    deadline_ms = serializers.IntegerField(min_value=1, max_value=60_000, default=200)
    external_state = serializers.DictField(required=False, default=dict, help_text=EXTERNAL_STATE_HELP)
