"""Input and output shapes of the routing endpoints (DESIGN.md §6); rules live in services.py."""

from __future__ import annotations

from rest_framework import serializers

from contracts.config import DEFAULT_POOL
from contracts.roles import ROLES


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
