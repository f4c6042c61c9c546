"""A service's alert rules (its thresholds and webhook) and the alerts they raised."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from controlplane.routing.models import Service

KINDS = ("p99", "error_rate", "timeout_rate", "drift", "accuracy_drop")


class AlertRules(models.Model):
    """One per service; a threshold left null is not watched."""

    service = models.OneToOneField(Service, on_delete=models.CASCADE, related_name="alert_rules")
    # The window each value is measured over, ending at the evaluation.
    window_s = models.PositiveIntegerField(default=300)
    # Fewer answered requests than this in the window: the latency and rates are not judged (a quiet
    # service neither raises nor clears on three requests).
    min_requests = models.PositiveIntegerField(default=20)
    p99_ms = models.FloatField(null=True, blank=True)
    error_rate = models.FloatField(null=True, blank=True)
    timeout_rate = models.FloatField(null=True, blank=True)
    # Any input feature whose latest drift score is above its own threshold (from the drift monitor).
    drift = models.BooleanField(default=False)
    # The champion's accuracy in the window against its accuracy over the day before it, absolute.
    accuracy_drop = models.FloatField(null=True, blank=True)
    webhook_url = models.URLField(max_length=500, blank=True, default="")
    # Signs every webhook body (HMAC-SHA256, header X-Rendezvous-Signature); shown once when set.
    webhook_secret = models.CharField(max_length=64, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"rules of {self.service_id}"


class Alert(models.Model):
    FIRING = "firing"
    RESOLVED = "resolved"

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=32, choices=[(k, k) for k in KINDS])
    # What it is about within the kind: a feature for drift, ``model@version`` for accuracy, "" otherwise.
    subject = models.CharField(max_length=200, blank=True, default="")
    state = models.CharField(max_length=16, choices=[(FIRING, FIRING), (RESOLVED, RESOLVED)], default=FIRING)
    threshold = models.FloatField()
    # The value that raised it, the worst seen while it fired, and the latest one.
    value_at_raise = models.FloatField()
    value_worst = models.FloatField()
    value_latest = models.FloatField()
    raised_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    # What the webhook last acknowledged (``firing``/``resolved``), "" before the first delivery.
    notified = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            # At most one firing alert per thing watched: a second evaluation updates it.
            models.UniqueConstraint(
                fields=["service", "kind", "subject"], condition=Q(state="firing"), name="alerts_one_firing"
            )
        ]
        indexes = [models.Index(fields=["service", "state", "raised_at"], name="alerts_by_state")]

    def __str__(self) -> str:
        return f"{self.service_id} {self.kind} {self.subject} {self.state}"
