"""Models and versions. A version is immutable once created: its sha256 names the artifact runners fetch."""

from __future__ import annotations

from django.db import models

from controlplane.tenancy.models import Tenant, slug_validator


class Model(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="models")
    slug = models.CharField(max_length=63, validators=[slug_validator])
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant__slug", "slug"]
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="registry_model_unique_slug")]

    def __str__(self) -> str:
        return f"{self.tenant.slug}/{self.slug}"


def artifact_upload_to(version: ModelVersion, filename: str) -> str:
    model = version.model
    return f"artifacts/{model.tenant.slug}/{model.slug}/{version.number}/{filename}"


class ModelVersion(models.Model):
    class Format(models.TextChoices):
        ONNX = "onnx"
        SKOPS = "skops"
        # Pickle-based formats: only ever loaded in pools the operator marks trusted.
        JOBLIB = "joblib"
        PICKLE = "pickle"
        PYTHON = "python"

    class Status(models.TextChoices):
        REGISTERED = "registered"
        VALIDATING = "validating"
        READY = "ready"
        FAILED = "failed"

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    artifact = models.FileField(upload_to=artifact_upload_to, max_length=500)
    format = models.CharField(max_length=16, choices=Format.choices)
    sha256 = models.CharField(max_length=64, db_index=True, editable=False)
    size = models.BigIntegerField(default=0, editable=False)
    # ``features``: input names in column order; ``example``: an inputs object for the smoke prediction.
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REGISTERED)
    report = models.TextField(blank=True, default="")
    # Validation runs in the background (a Celery task): when it was last queued, how often it was
    # started, and when its outcome was recorded. A sweep re-queues versions whose task was lost.
    validation_queued_at = models.DateTimeField(null=True, blank=True, editable=False)
    validation_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    validated_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["model", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["model", "number"], name="registry_version_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.model} v{self.number}"

    @property
    def features(self) -> list[str]:
        return list(self.metadata.get("features") or [])
