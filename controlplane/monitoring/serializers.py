"""``GET …/metrics`` as the API answers it (DESIGN.md §6, *extension (monitoring)*)."""

from __future__ import annotations

from rest_framework import serializers

from contracts.roles import ROLES


def _rate(help_text: str) -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, min_value=0.0, max_value=1.0, help_text=help_text)


def _quality(help_text: str) -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, help_text=f"{help_text}; null until labelled feedback is joined.")


class DeploymentMetricsSerializer(serializers.Serializer):
    model = serializers.CharField()
    version = serializers.IntegerField()
    role = serializers.ChoiceField(choices=ROLES, help_text="Its role in the decisions (one row per role it had).")
    count = serializers.IntegerField(help_text="Decisions it took part in (it was among the candidates).")
    errors = serializers.IntegerField(help_text="Error scores in time.")
    timeouts = serializers.IntegerField(help_text="No score, or a late one in a decision made at the deadline.")
    fallbacks = serializers.IntegerField(help_text="Decisions it took part in that a fallback answered.")
    wins = serializers.IntegerField(help_text="Decisions answered with its output.")
    compared = serializers.IntegerField(help_text="Its ok scores with a label, when the answer had one too.")
    agreed = serializers.IntegerField(help_text="Of those, the ones whose label equals the answer's.")
    scored = serializers.IntegerField(help_text="Scores with a latency (the percentiles' sample).")
    p50_ms = serializers.FloatField(allow_null=True, help_text="Scoring latency, within `relative_accuracy`.")
    p95_ms = serializers.FloatField(allow_null=True)
    p99_ms = serializers.FloatField(allow_null=True)
    error_rate = _rate("errors / count")
    timeout_rate = _rate("timeouts / count")
    fallback_rate = _rate("fallbacks / count")
    win_rate = _rate("wins / count")
    agreement = _rate("agreed / compared")
    accuracy = _quality("Share of labelled requests it classified right")
    f1 = _quality("Macro F1 over the labelled requests (classifiers)")
    mae = _quality("Mean absolute error over the labelled requests (regressors)")
    rmse = _quality("Root mean squared error over the labelled requests (regressors)")
    labelled = serializers.IntegerField(allow_null=True, help_text="Requests with a label it scored.")


class MetricsOutSerializer(serializers.Serializer):
    window = serializers.CharField(help_text="As asked, e.g. `15m`, `1h`, `7d`.")
    start = serializers.DateTimeField(
        source="metrics.start",
        help_text="The first minute counted (a window reaching past the minute roll-ups' retention starts at "
        "the hour).",
    )
    end = serializers.DateTimeField(source="metrics.end", help_text="The end of the current minute (exclusive).")
    relative_accuracy = serializers.FloatField(source="metrics.relative_accuracy",
                                               help_text="Of the latency percentiles (0.01 = 1 %).")
    deployments = DeploymentMetricsSerializer(many=True, source="metrics.deployments")
