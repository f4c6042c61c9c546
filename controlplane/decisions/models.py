"""One row per decided request: what answered and every candidate, kept for a retention period."""

from __future__ import annotations

from django.db import models

from controlplane.routing.models import Service


class DecisionRecord(models.Model):
    # CASCADE: a deleted service takes its decision history with it, like its other rows.
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="decisions")
    request_id = models.CharField(max_length=128)
    status = models.CharField(max_length=16)
    reason = models.CharField(max_length=64)
    model = models.CharField(max_length=63, null=True, blank=True)
    version = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.FloatField()
    config_revision = models.PositiveIntegerField()
    output = models.JSONField(null=True, blank=True)
    # Candidates as the wire carries them (contracts.Candidate); read back whole, never queried into.
    candidates = models.JSONField(default=list)
    decided_at = models.DateTimeField()
    # When it was stored: retention counts on our own clock, not on the clock of whichever worker decided.
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-decided_at"]
        constraints = [
            # Also the lookup index of GET …/requests/<request_id>, and what makes replays idempotent.
            models.UniqueConstraint(fields=["service", "request_id"], name="decisions_unique_request")
        ]

    def __str__(self) -> str:
        return f"{self.service_id}:{self.request_id} {self.status}"
