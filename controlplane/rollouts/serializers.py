"""Input and output shapes of the rollout endpoints (DESIGN.md §6); the rules live in services.py."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from controlplane.rollouts.models import Rollout
from controlplane.rollouts.plans import STRATEGIES, steps_problem
from controlplane.rollouts.services import step_elapsed

MAX_STEP_SECONDS = 7 * 24 * 3600


class StrictSerializer(serializers.Serializer):
    """Unknown fields are an error, not silently ignored: a misspelt threshold must not pass unnoticed."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: "unknown field" for name in unknown})
        return super().to_internal_value(data)


class AnalysisSerializer(StrictSerializer):
    max_error_rate = serializers.FloatField(
        min_value=0, max_value=1, required=False, help_text="How far above the baseline's error rate. Default 0.05."
    )
    max_timeout_rate = serializers.FloatField(
        min_value=0, max_value=1, required=False,
        help_text="No in-time score (missing, or late at the deadline), above the baseline's. Default 0.05.",
    )
    max_p99_ms = serializers.FloatField(
        min_value=0.001, max_value=3_600_000, required=False, help_text="Default: the service deadline."
    )
    min_agreement = serializers.FloatField(
        min_value=0, max_value=1, required=False, help_text="Label agreement with the baseline champion; 0 = off."
    )
    min_requests = serializers.IntegerField(
        min_value=1, max_value=10_000_000, required=False, help_text="Requests a step needs to be judged. Default 20."
    )
    max_wait_seconds = serializers.FloatField(
        min_value=0, max_value=MAX_STEP_SECONDS, required=False, allow_null=True,
        help_text="How long past step_seconds to wait for min_requests before rolling back; default: forever.",
    )


class RolloutInSerializer(StrictSerializer):
    model = serializers.SlugField(max_length=63)
    version = serializers.IntegerField(min_value=1, max_value=2_147_483_647)
    strategy = serializers.ChoiceField(choices=STRATEGIES, default="canary")
    steps = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=100),
        required=False,
        max_length=100,
        help_text="The candidate's share of traffic per step, strictly increasing, ending at 100 (the promotion). "
        "Default [10, 50, 100] for canary; blue-green takes [100] only.",
    )
    step_seconds = serializers.FloatField(
        max_value=MAX_STEP_SECONDS, help_text="How long each step runs healthy before the next one (> 0)."
    )
    analysis = AnalysisSerializer(required=False)

    def validate_step_seconds(self, value: float) -> float:
        if not value > 0:
            raise serializers.ValidationError("must be above 0")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        steps = attrs.get("steps")
        if steps is not None:
            problem = steps_problem(steps, strategy=attrs.get("strategy", "canary"))
            if problem:
                raise serializers.ValidationError({"steps": problem})
        return attrs


class StepNumbersSerializer(serializers.Serializer):
    """What the candidate did in the current step's window (rates are fractions; null: nothing to measure)."""

    requests = serializers.IntegerField(help_text="Decisions in which the candidate was scored (or missing).")
    warming = serializers.IntegerField(help_text="Requests held while its runner was still loading it; not judged.")
    errors = serializers.IntegerField()
    timeouts = serializers.IntegerField(help_text="No in-time score: missing, or after the deadline.")
    error_rate = serializers.FloatField(allow_null=True)
    timeout_rate = serializers.FloatField(allow_null=True)
    p99_ms = serializers.FloatField(allow_null=True, help_text="The candidate's own scoring latency.")
    compared = serializers.IntegerField(help_text="Requests where both it and the baseline champion gave a label.")
    agreement = serializers.FloatField(allow_null=True, help_text="Share of `compared` with the same label.")
    baseline_error_rate = serializers.FloatField(allow_null=True, help_text="The baseline champion's, same requests.")
    baseline_timeout_rate = serializers.FloatField(allow_null=True)


class RolloutStateSerializer(serializers.Serializer):
    analysed_at = serializers.DateTimeField(required=False)
    step = serializers.IntegerField(required=False)
    elapsed_s = serializers.FloatField(required=False)
    numbers = StepNumbersSerializer(required=False)
    verdict = serializers.ChoiceField(choices=["rollback", "advance", "hold", "wait"], required=False)
    note = serializers.CharField(required=False, help_text="e.g. `waiting for traffic: 5 of 20 requests at step 10%`")


class RolloutOutSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.slug")
    version = serializers.IntegerField(source="version.number")
    step = serializers.IntegerField(
        source="step_weight", help_text="The candidate's share of traffic now, in percent (0: shadow)."
    )
    revision = serializers.IntegerField(source="step_revision", help_text="The revision the current step published.")
    step_elapsed_s = serializers.SerializerMethodField(help_text="Seconds the step has run; frozen while paused.")
    baseline = serializers.SerializerMethodField()
    analysis = serializers.DictField(help_text="The thresholds in force (defaults filled in).")
    state = RolloutStateSerializer(help_text="The latest analysis: the step window's numbers and the verdict.")
    steps = serializers.ListField(child=serializers.IntegerField())

    class Meta:
        model = Rollout
        fields = [
            "id", "model", "version", "strategy", "steps", "step_seconds", "analysis", "status", "step",
            "step_index", "step_started_at", "step_elapsed_s", "revision", "reason", "state", "baseline",
            "baseline_revision", "actor", "created_at", "updated_at", "finished_at",
        ]
        read_only_fields = fields

    def get_step_elapsed_s(self, rollout: Rollout) -> float:
        return round(step_elapsed(rollout, now=timezone.now()), 1)

    def get_baseline(self, rollout: Rollout) -> dict[str, Any]:
        """The champion the candidate is compared with, and the routing abort and rollback restore."""
        return {"model": rollout.baseline_model, "version": rollout.baseline_version, "deployments": rollout.baseline}
