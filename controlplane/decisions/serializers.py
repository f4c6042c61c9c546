"""The Decision as the API answers it (DESIGN.md §6): the Result fields plus every candidate."""

from __future__ import annotations

from rest_framework import serializers

from contracts.roles import ROLES


class CandidateSerializer(serializers.Serializer):
    model = serializers.CharField()
    version = serializers.IntegerField()
    role = serializers.ChoiceField(choices=ROLES)
    status = serializers.ChoiceField(
        choices=["ok", "error", "missing"], help_text="`missing`: no score arrived, not even late."
    )
    output = serializers.JSONField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    latency_ms = serializers.FloatField(allow_null=True)
    late = serializers.BooleanField(help_text="The score arrived after the answer, within the grace period.")
    demoted = serializers.CharField(
        allow_null=True, help_text="Why the rendezvous had demoted this version for the request; null if not."
    )


class DecisionOutSerializer(serializers.Serializer):
    request_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["ok", "timeout", "error"])
    output = serializers.JSONField(allow_null=True)
    model = serializers.CharField(allow_null=True, help_text="The model that answered; null on timeout.")
    version = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(help_text="champion, fallback, deadline, only-available, …")
    latency_ms = serializers.FloatField()
    config_revision = serializers.IntegerField()
    candidates = CandidateSerializer(many=True)
