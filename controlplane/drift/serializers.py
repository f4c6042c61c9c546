"""Drift as the API answers it (DESIGN.md §6): one merged series per input feature."""

from __future__ import annotations

from rest_framework import serializers


class DriftWindowQuerySerializer(serializers.Serializer):
    window = serializers.CharField(default="1h", help_text="A duration: `15m`, `1h`, `7d` (at most 90 days).")


class DriftPointSerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text="The end of the bucket (the requests' `sent_at`).")
    psi = serializers.FloatField(allow_null=True, help_text="null: no request of the bucket had the feature.")
    ks = serializers.FloatField(allow_null=True, help_text="Numeric features only.")
    flagged = serializers.BooleanField()
    requests = serializers.IntegerField(help_text="Requests in the bucket, every runner's merged.")


class DriftFeatureSerializer(serializers.Serializer):
    feature = serializers.CharField()
    kind = serializers.ChoiceField(choices=["numeric", "categorical"])
    threshold = serializers.FloatField(help_text="The PSI above which the feature is flagged.")
    score = serializers.FloatField(allow_null=True, help_text="The PSI of the newest bucket.")
    flagged = serializers.BooleanField(help_text="Whether the newest bucket is flagged.")
    series = DriftPointSerializer(many=True)


class DriftReferenceSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    requests = serializers.IntegerField()


class DriftOutSerializer(serializers.Serializer):
    window = serializers.CharField()
    reference = DriftReferenceSerializer(allow_null=True, help_text="null until the first buckets settled.")
    features = DriftFeatureSerializer(many=True)
