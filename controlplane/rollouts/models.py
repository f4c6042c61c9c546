"""A rollout moves one version from staging to champion in steps, judged on live numbers at each step."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from controlplane.registry.models import ModelVersion
from controlplane.routing.models import Service


class Rollout(models.Model):
    class Strategy(models.TextChoices):
        CANARY = "canary"
        BLUE_GREEN = "blue-green"

    class Status(models.TextChoices):
        RUNNING = "running"
        PAUSED = "paused"
        PROMOTED = "promoted"
        ROLLED_BACK = "rolled_back"
        ABORTED = "aborted"

    ACTIVE = (Status.RUNNING, Status.PAUSED)

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="rollouts")
    # PROTECT: the history must keep naming the version it rolled out.
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="rollouts")
    strategy = models.CharField(max_length=16, choices=Strategy.choices)
    steps = models.JSONField(help_text="The candidate's traffic share per step, in percent; the last is 100.")
    step_seconds = models.FloatField()
    # The effective thresholds (defaults filled in), so a rollout is judged by the rules it started with.
    analysis = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    # Index into the plan (``plans.plan_weights``); ``step_weight`` is the share it stands for.
    step_index = models.PositiveIntegerField(default=0)
    step_weight = models.PositiveIntegerField(default=0)
    step_started_at = models.DateTimeField()
    # The revision the step published: only decisions made under it (or later) count for the step.
    step_revision = models.PositiveIntegerField()
    # The step clock: time banked before the last pause, plus time since ``step_resumed_at`` (None: paused).
    step_elapsed_s = models.FloatField(default=0.0)
    step_resumed_at = models.DateTimeField(null=True, blank=True)
    # The routing before the rollout: abort and automatic rollback republish this revision.
    baseline = models.JSONField(default=list)
    baseline_revision = models.PositiveIntegerField()
    baseline_model = models.CharField(max_length=63)
    baseline_version = models.PositiveIntegerField()
    reason = models.TextField(blank=True, default="")
    # The latest analysis: the numbers of the step window and what was decided on them.
    state = models.JSONField(default=dict, blank=True)
    actor = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set by the beat tick when it enqueues an analysis, cleared by the analysis: one in flight at a time.
    analysis_queued_at = models.DateTimeField(null=True, blank=True)
    # Not analysed again before this: a step window big enough to make analysis slow is analysed less often.
    analysis_due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["service"],
                condition=Q(status__in=["running", "paused"]),
                name="rollouts_one_active_per_service",
            )
        ]
        indexes = [models.Index(fields=["status"], name="rollouts_status")]

    def __str__(self) -> str:
        return f"rollout {self.pk} of {self.version} on {self.service} ({self.status})"

    @property
    def actor_name(self) -> str:
        """How automatic actions of this rollout appear in the audit log and config revisions."""
        return f"rollout:{self.pk}"

    @property
    def candidate(self) -> tuple[str, int]:
        return (self.version.model.slug, self.version.number)
