"""A service is what clients call; its deployments say which model versions score and which may answer."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from contracts.config import DEFAULT_POOL
from contracts.state import StateSpecError, external_state_parse
from controlplane.registry.models import ModelVersion
from controlplane.registry.trust import deployment_trust_problem
from controlplane.routing.schemas import schema_problems
from controlplane.tenancy.models import Tenant, slug_validator


def validate_json_schema(value: Any) -> None:
    """Only the safe subset the gateway evaluates in bounded time (controlplane/routing/schemas.py)."""
    problems = schema_problems(value)
    if problems:
        raise ValidationError(problems)


def input_names(input_schema: Any) -> list[str]:
    """The inputs a schema declares (its top-level ``properties``); empty when it declares none."""
    properties = input_schema.get("properties") if isinstance(input_schema, dict) else None
    return list(properties) if isinstance(properties, dict) else []


def validate_external_state(external_state: Any, input_schema: Any) -> None:
    """The spec must parse (contracts.state) and inject no name the input schema declares."""
    try:
        external_state_parse(external_state, input_names=input_names(input_schema))
    except StateSpecError as exc:
        raise ValidationError({"external_state": exc.problems}) from exc


class Service(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="services")
    slug = models.CharField(max_length=63, validators=[slug_validator])
    name = models.CharField(max_length=200)
    input_schema = models.JSONField(default=dict, validators=[validate_json_schema])
    deadline_ms = models.PositiveIntegerField(
        default=200, validators=[MinValueValidator(1), MaxValueValidator(60_000)]
    )
    # Providers of values injected once before fan-out, so every model sees byte-identical input
    # (DESIGN.md §4 and contracts/state.py): ``{"providers": [{"type": "clock" | "lookup" | "redis", …}]}``.
    external_state = models.JSONField(default=dict, blank=True)
    # Fixed at creation: requests and scores are co-partitioned, so it cannot change under traffic.
    partitions = models.PositiveIntegerField(
        default=4, validators=[MinValueValidator(1), MaxValueValidator(256)]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant__slug", "slug"]
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="routing_service_unique_slug")]

    def __str__(self) -> str:
        return f"{self.tenant.slug}/{self.slug}"

    def clean(self) -> None:
        validate_external_state(self.external_state, self.input_schema)


class Deployment(models.Model):
    class Role(models.TextChoices):
        CHAMPION = "champion"
        FALLBACK = "fallback"
        CHALLENGER = "challenger"
        CANARY = "canary"
        DECOY = "decoy"

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="deployments")
    # PROTECT: a version that is live in a routing table cannot disappear under the runners.
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="deployments")
    role = models.CharField(max_length=16, choices=Role.choices)
    weight = models.PositiveIntegerField(default=100)
    rank = models.IntegerField(default=0)
    pool = models.CharField(max_length=63, default=DEFAULT_POOL, validators=[slug_validator])
    last_resort = models.BooleanField(
        default=False, help_text="A canary marked last resort may answer after every fallback failed."
    )

    class Meta:
        ordering = ["service", "role", "rank", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["service", "version"], name="routing_deployment_unique_version")
        ]

    def __str__(self) -> str:
        return f"{self.service}: {self.version} as {self.role}"

    def clean(self) -> None:
        if self.service_id and self.version_id:
            if self.version.model.tenant_id != self.service.tenant_id:
                raise ValidationError({"version": "the version belongs to another tenant"})
            if self.version.status != ModelVersion.Status.READY:
                raise ValidationError({"version": f"{self.version} is {self.version.status}, not ready"})
            problem = deployment_trust_problem(version=self.version, pool=self.pool)
            if problem:
                raise ValidationError({"pool": problem})


class ConfigRevision(models.Model):
    """An immutable snapshot of a service's routing; rollback republishes an old one as a new revision."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    actor = models.CharField(max_length=200)
    # Why this revision was made, when a system actor made it (e.g. the automatic fallback).
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["service", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["service", "number"], name="routing_revision_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.service} r{self.number}"
