"""Feedback as clients send it (one ``{request_id, label}`` or a bare JSON array of them) and the league table."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contracts.roles import ROLES
from controlplane.api.windows import WINDOW_PATTERN
from controlplane.api.windows import window_parse as api_window_parse

LABEL_MAX_LENGTH = 256


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": LABEL_MAX_LENGTH},
            {"type": "number"},
            {"type": "boolean"},
        ],
        "description": "The ground truth: a class label (string, integer or boolean) or a regressor's number.",
    }
)
class LabelField(serializers.Field):
    """A JSON scalar, compared with what each model answered (its ``label`` or its ``value``)."""

    default_error_messages = {
        "scalar": "a label is a JSON string, number or boolean (the class or the value itself, not an object), "
        "got {kind}",
        "blank": "a label may not be an empty string",
        "long": f"a label has at most {LABEL_MAX_LENGTH} characters",
    }

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            if not data:
                self.fail("blank")
            if len(data) > LABEL_MAX_LENGTH:
                self.fail("long")
            return data
        if isinstance(data, bool | int | float):
            # Strict JSON parsing (controlplane/jsonlimits.py) has already refused NaN and infinities.
            return data
        self.fail("scalar", kind="null" if data is None else type(data).__name__)

    def to_representation(self, value: Any) -> Any:
        return value


class FeedbackItemSerializer(serializers.Serializer):
    request_id = serializers.CharField(max_length=128, help_text="The `request_id` predict answered.")
    label = LabelField()


class FeedbackOutSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="How many requests got a label (repeats count once).")


WINDOW_MAX = timedelta(days=90)


def window_parse(text: str) -> timedelta:
    """``15m``, ``1h``, ``7d`` → a duration; ``WindowError`` (a ValueError) beyond WINDOW_MAX or malformed."""
    return api_window_parse(text, maximum=WINDOW_MAX)


class QualityQuerySerializer(serializers.Serializer):
    window = serializers.RegexField(
        WINDOW_PATTERN,
        max_length=7,
        required=False,
        default="7d",
        help_text="How far back decisions count: `<n>m`, `<n>h` or `<n>d`, at most 90d. Default 7d.",
    )

    def validate_window(self, value: str) -> str:
        try:
            window_parse(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value


class VersionQualitySerializer(serializers.Serializer):
    rank = serializers.IntegerField(help_text="1 is best: accuracy (then F1) for classifiers, RMSE (then MAE) "
                                    "for regressors; versions with nothing labelled last.")
    model = serializers.CharField()
    version = serializers.IntegerField()
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=ROLES), help_text="The roles it held in the labelled decisions."
    )
    labelled = serializers.IntegerField(
        source="quality.labelled", help_text="Labelled requests it scored (its metrics are over these)."
    )
    accuracy = serializers.FloatField(
        source="quality.accuracy", allow_null=True, help_text="Classifiers: share of labels predicted right."
    )
    f1 = serializers.FloatField(
        source="quality.f1", allow_null=True, help_text="Classifiers: macro F1 over the classes seen."
    )
    mae = serializers.FloatField(source="quality.mae", allow_null=True, help_text="Regressors: mean absolute error.")
    rmse = serializers.FloatField(
        source="quality.rmse", allow_null=True, help_text="Regressors: root mean squared error."
    )


class QualityOutSerializer(serializers.Serializer):
    window = serializers.CharField()
    since = serializers.DateTimeField(help_text="Decisions made from here…")
    until = serializers.DateTimeField(help_text="…to here (now) count.")
    labelled_requests = serializers.IntegerField(help_text="Decisions of the window that have a label.")
    versions = VersionQualitySerializer(many=True)
