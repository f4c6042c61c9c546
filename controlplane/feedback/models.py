"""One label per (service, request): a later label for the same request replaces the earlier one."""

from __future__ import annotations

from django.db import models

from controlplane.routing.models import Service


class Feedback(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="feedback")
    # Not a foreign key to the decision: labels may arrive before the decision is stored or after it expired.
    request_id = models.CharField(max_length=128)
    label = models.JSONField()
    # When the current label was given: a replacement moves it.
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["service", "request_id"], name="feedback_unique_request")]

    def __str__(self) -> str:
        return f"{self.service_id}:{self.request_id}"
