"""What the workers last reported (``rdv.status``), and the verdict on each routing revision's readiness."""

from __future__ import annotations

from django.db import models

from controlplane.routing.models import ConfigRevision


class WorkerReport(models.Model):
    """The latest WorkerStatus of one worker; a worker silent for ``RDV_STATUS_STALE_S`` no longer counts."""

    worker = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16)
    pool = models.CharField(max_length=63, null=True, blank=True)
    # When the worker sent it (its clock), and when the consumer stored it.
    at = models.DateTimeField(db_index=True)
    received_at = models.DateTimeField(auto_now=True)
    interval_s = models.FloatField()
    # ``{"tenant/service": {"revision": n, "applied_at": epoch seconds}}``
    revisions = models.JSONField(default=dict)
    # Fingerprint of the reported versions: a heartbeat that changes nothing does not rewrite placements.
    versions_digest = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["worker"]

    def __str__(self) -> str:
        return f"{self.kind} {self.worker}"


class VersionPlacement(models.Model):
    """One model version as one runner reported it: loading, ready, failed (with the error) or idle."""

    report = models.ForeignKey(WorkerReport, on_delete=models.CASCADE, related_name="placements")
    tenant = models.CharField(max_length=63)
    model = models.CharField(max_length=63)
    version = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    state = models.CharField(max_length=16)
    error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["tenant", "model", "version"], name="fleet_placement_version")]

    def __str__(self) -> str:
        return f"{self.tenant}/{self.model} v{self.version} on {self.report.worker}: {self.state}"


class RevisionCheck(models.Model):
    """The automatic fallback's verdict on a revision, taken once: so a bad revision is rolled back once."""

    class State(models.TextChoices):
        READY = "ready"
        ROLLED_BACK = "rolled_back"
        # Judged bad, but the earlier routing could not be restored (e.g. its versions are gone).
        STUCK = "stuck"

    revision = models.OneToOneField(ConfigRevision, on_delete=models.CASCADE, related_name="readiness_check")
    state = models.CharField(max_length=16, choices=State.choices)
    reason = models.TextField(blank=True, default="")
    # The revision the rollback published (ROLLED_BACK only).
    rolled_back_by = models.PositiveIntegerField(null=True, blank=True)
    decided_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.revision}: {self.state}"
