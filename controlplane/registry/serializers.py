"""Models and versions as the API reads and writes them (DESIGN.md §6, Shapes)."""

from __future__ import annotations

import json
from typing import Any

from rest_framework import serializers

from controlplane.api.parsers import NUL_MESSAGE, contains_nul
from controlplane.registry.models import Model, ModelVersion
from controlplane.tenancy.models import slug_validator


class ModelInSerializer(serializers.Serializer):
    slug = serializers.CharField(max_length=63, validators=[slug_validator])
    name = serializers.CharField(max_length=200)


class ModelOutSerializer(serializers.ModelSerializer):
    latest_version = serializers.IntegerField(allow_null=True, read_only=True, help_text="Its highest version number.")

    class Meta:
        model = Model
        fields = ["slug", "name", "created_at", "latest_version"]
        read_only_fields = fields


class VersionInSerializer(serializers.Serializer):
    artifact = serializers.FileField(allow_empty_file=False, help_text="The model file.")
    format = serializers.ChoiceField(
        choices=ModelVersion.Format.choices,
        help_text=(
            "`onnx` or `skops`. `joblib`, `pickle` and `python` run code when loaded: only tenants the operator "
            "trusts may upload them, and they deploy only to trusted pools."
        ),
    )
    metadata = serializers.CharField(
        required=False,
        help_text=(
            "A JSON object as a string: `features` (input names in column order), `example` (an inputs "
            "object used for the smoke prediction), and optionally `internal_state` (`{type: redis, key, prefix, "
            "fields, default}`: a Redis hash the runner injects before this version's predict call only)."
        ),
    )

    def validate_metadata(self, value: str) -> dict[str, Any]:
        try:
            metadata = json.loads(value)
        except ValueError as exc:
            raise serializers.ValidationError(f"not valid JSON: {exc}") from exc
        if not isinstance(metadata, dict):
            raise serializers.ValidationError("must be a JSON object")
        if contains_nul(metadata):
            raise serializers.ValidationError(NUL_MESSAGE)
        return metadata


class VersionOutSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="number", help_text="The <n> of …/versions/<n>.")
    status = serializers.ChoiceField(choices=ModelVersion.Status.choices)
    format = serializers.ChoiceField(choices=ModelVersion.Format.choices)
    metadata = serializers.JSONField()
    report = serializers.CharField(
        help_text=(
            "Why the version is ready or failed, from validation (a smoke test in a separate process with time "
            "and memory limits); while `validating`, that it is queued."
        )
    )
    validated_at = serializers.DateTimeField(
        allow_null=True, help_text="When validation recorded `ready` or `failed`; null while validating."
    )

    class Meta:
        model = ModelVersion
        fields = ["version", "status", "sha256", "format", "metadata", "report", "size", "created_at", "validated_at"]
        read_only_fields = fields
