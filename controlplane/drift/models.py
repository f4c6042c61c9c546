"""Drift as stored: every runner's part of every bucket, the service's reference, and one scored point per
bucket and feature (the merge of every part, recomputed when a part arrives)."""

from __future__ import annotations

from django.db import models

from controlplane.routing.models import Service


class DriftPart(models.Model):
    """One DriftReport as read from ``rdv.drift`` (or one bucket of a scan of the requests topic)."""

    # CASCADE: a deleted service takes its drift history with it, like its other rows.
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="drift_parts")
    # Unique per service: a replayed record is stored once; a scan's id is its bucket's, so a new scan replaces it.
    report_id = models.CharField(max_length=128)
    # The canary's pool, or ``scan`` for a part computed from the requests topic.
    source = models.CharField(max_length=63)
    runner = models.CharField(max_length=255)
    bucket_start = models.DateTimeField()
    bucket_s = models.FloatField()
    count = models.PositiveIntegerField()
    # {feature: {numeric: {bin: count}, categories: {text: count}, missing}} (controlplane.drift.scoring.Histogram)
    features = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "report_id"], name="drift_part_unique_report")]
        indexes = [models.Index(fields=["service", "bucket_start"], name="drift_part_bucket")]


class DriftReference(models.Model):
    """What a service's buckets are compared with: the merge of its first buckets (every runner's parts)
    until they held ``RDV_DRIFT_WINDOW`` requests; chosen once, so every point has the same reference."""

    service = models.OneToOneField(Service, on_delete=models.CASCADE, related_name="drift_reference")
    first_bucket = models.DateTimeField()
    last_bucket = models.DateTimeField()
    # The end of the last bucket: the reference covers requests sent from first_bucket to this.
    end = models.DateTimeField()
    count = models.PositiveIntegerField()
    # {feature: {kind, histogram}}
    features = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)


class DriftPoint(models.Model):
    """One feature of one bucket of a service, merged over every part, against the reference."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="drift_points")
    bucket_start = models.DateTimeField()
    bucket_end = models.DateTimeField()
    feature = models.CharField(max_length=255)
    kind = models.CharField(max_length=16)
    psi = models.FloatField(null=True)
    ks = models.FloatField(null=True)
    ks_pvalue = models.FloatField(null=True)
    threshold = models.FloatField()
    flagged = models.BooleanField()
    # Requests of the bucket (every part), values of the feature's kind among them, and those without one.
    requests = models.PositiveIntegerField()
    count = models.PositiveIntegerField()
    missing = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["bucket_start", "feature"]
        constraints = [
            models.UniqueConstraint(fields=["service", "bucket_start", "feature"], name="drift_point_unique")
        ]
        indexes = [models.Index(fields=["service", "bucket_start"], name="drift_point_bucket")]
