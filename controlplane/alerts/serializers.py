"""Alert rules in and out, and alerts out."""

from __future__ import annotations

from rest_framework import serializers

from controlplane.alerts.models import KINDS


class AlertRulesInSerializer(serializers.Serializer):
    window_s = serializers.IntegerField(
        min_value=30,
        max_value=7 * 24 * 3600,
        required=False,
        help_text="Each value is measured over this many seconds ending now.",
    )
    min_requests = serializers.IntegerField(
        min_value=1,
        max_value=1_000_000,
        required=False,
        help_text="Fewer answers than this in the window: latency and rates are not judged.",
    )
    p99_ms = serializers.FloatField(
        min_value=0, allow_null=True, required=False, help_text="Alert when the p99 of answer latency is above this."
    )
    error_rate = serializers.FloatField(
        min_value=0,
        max_value=1,
        allow_null=True,
        required=False,
        help_text="Alert when the share of `error` answers is above this.",
    )
    timeout_rate = serializers.FloatField(
        min_value=0,
        max_value=1,
        allow_null=True,
        required=False,
        help_text="Alert when the share of `timeout` answers is above this.",
    )
    drift = serializers.BooleanField(
        required=False, help_text="Alert on every input feature whose drift is above its threshold."
    )
    accuracy_drop = serializers.FloatField(
        min_value=0,
        max_value=1,
        allow_null=True,
        required=False,
        help_text="Alert when the champion's accuracy in the window is this much "
        "below its accuracy over the day before.",
    )
    webhook_url = serializers.URLField(
        max_length=500,
        allow_blank=True,
        required=False,
        help_text="POSTed every raise and clear, signed (X-Rendezvous-Signature).",
    )
    rotate_secret = serializers.BooleanField(
        required=False, default=False, help_text="Make a new webhook secret (shown once in the answer)."
    )

    def validate(self, attrs: dict) -> dict:
        unknown = set(self.initial_data) - set(self.fields) if isinstance(self.initial_data, dict) else set()
        if unknown:
            raise serializers.ValidationError({name: ["unknown field"] for name in sorted(unknown)})
        return attrs


class AlertRulesOutSerializer(serializers.Serializer):
    window_s = serializers.IntegerField()
    min_requests = serializers.IntegerField()
    p99_ms = serializers.FloatField(allow_null=True)
    error_rate = serializers.FloatField(allow_null=True)
    timeout_rate = serializers.FloatField(allow_null=True)
    drift = serializers.BooleanField()
    accuracy_drop = serializers.FloatField(allow_null=True)
    webhook_url = serializers.CharField()
    webhook_secret = serializers.CharField(
        allow_null=True,
        required=False,
        help_text="Only in the answer that made it: the HMAC-SHA256 key of X-Rendezvous-Signature.",
    )


class AlertOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=KINDS)
    subject = serializers.CharField(help_text="The feature (drift), `model@version` (accuracy), or empty.")
    state = serializers.ChoiceField(choices=["firing", "resolved"])
    threshold = serializers.FloatField()
    value_at_raise = serializers.FloatField()
    value_worst = serializers.FloatField()
    value_latest = serializers.FloatField()
    raised_at = serializers.DateTimeField()
    cleared_at = serializers.DateTimeField(allow_null=True)
    notified = serializers.CharField(help_text="What the webhook last acknowledged: `firing`, `resolved` or empty.")
