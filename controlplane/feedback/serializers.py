"""Feedback as clients send it: one ``{request_id, label}`` or a bare JSON array of them."""

from __future__ import annotations

from rest_framework import serializers


class FeedbackItemSerializer(serializers.Serializer):
    request_id = serializers.CharField(max_length=128)
    label = serializers.JSONField(help_text="The ground truth, in the shape of the model's output label.")


class FeedbackOutSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="How many requests got a label (repeats count once).")
