"""Roll-ups of the decisions per deployment: one row per minute, minutes rolled into hours.

Counters are sums and the latency is a mergeable sketch (``sketch.LatencySketch`` bytes), so rows add
up: the hour row is exactly the sum of the minute rows rolled into it. A minute row is written by the
roll-up consumer while ``rolled`` is false (at most one such row per deployment and minute); Celery beat
adds it into its hour row and marks it ``rolled``; decisions of that minute read later start a new
unrolled row beside it. So ``GET …/metrics`` sums hour rows, the unrolled minute rows of those hours,
and every minute row of the window's edges.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from controlplane.routing.models import Service


class RollupCounters(models.Model):
    # CASCADE: a deleted service takes its monitoring with it, like its other rows.
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=63)
    version = models.PositiveIntegerField()
    role = models.CharField(max_length=16)
    count = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    timeouts = models.BigIntegerField(default=0)
    fallbacks = models.BigIntegerField(default=0)
    wins = models.BigIntegerField(default=0)
    compared = models.BigIntegerField(default=0)
    agreed = models.BigIntegerField(default=0)
    latency = models.BinaryField(default=b"")

    class Meta:
        abstract = True


class RollupMinute(RollupCounters):
    minute = models.DateTimeField()
    rolled = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service", "minute", "model", "version", "role"],
                condition=Q(rolled=False),
                name="monitoring_one_unrolled_minute",
            )
        ]
        indexes = [models.Index(fields=["service", "minute"], name="monitoring_minute_window")]

    def __str__(self) -> str:
        return f"{self.service_id}:{self.model}@{self.version}/{self.role} {self.minute:%Y-%m-%d %H:%M}"


class RollupHour(RollupCounters):
    hour = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service", "hour", "model", "version", "role"], name="monitoring_one_hour"
            )
        ]

    def __str__(self) -> str:
        return f"{self.service_id}:{self.model}@{self.version}/{self.role} {self.hour:%Y-%m-%d %H}h"


class RollupWatermark(models.Model):
    """The last offset of a decisions partition already in the minute rows: stored in the same
    transaction as them, so a record read again (a replay, a rebalance, a new group) is skipped."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    topic = models.CharField(max_length=255)
    partition = models.PositiveIntegerField()
    offset = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["topic", "partition"], name="monitoring_one_watermark")]

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"
