"""A tenant owns everything else; its API tokens are stored only as a hash of the secret."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from contracts.topics import SLUG_PATTERN

SCOPES: tuple[str, ...] = ("predict", "read", "deploy", "admin")

# The same rule as topic names (DESIGN.md §3): a slug ends up inside Kafka topic names.
slug_validator = RegexValidator(
    SLUG_PATTERN, "Use lowercase letters, digits and hyphens, starting with a letter or digit (max 63)."
)


class Tenant(models.Model):
    slug = models.CharField(max_length=63, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    # Set by the operator in the admin only (never through the tenant API): this tenant may upload
    # formats that run code when loaded (joblib, pickle, python), deployable to trusted pools only.
    trusted_code = models.BooleanField(
        default=False,
        help_text=(
            "May upload joblib, pickle and python models, which run code when loaded. They are never loaded "
            "by the control plane and deploy only to pools listed in RDV_TRUSTED_POOLS."
        ),
    )
    # Quotas (controlplane/tenancy/quotas.py), set by the operator in the admin only; empty = the
    # RDV_QUOTA_* setting's default.
    quota_predictions_per_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="Predictions per second (token bucket, burst of one second). Empty: default."
    )
    quota_in_flight = models.PositiveIntegerField(
        null=True, blank=True, help_text="Predictions awaiting their answer at once. Empty: default."
    )
    quota_services = models.PositiveIntegerField(null=True, blank=True, help_text="Services. Empty: default.")
    quota_models = models.PositiveIntegerField(null=True, blank=True, help_text="Models. Empty: default.")
    quota_versions = models.PositiveIntegerField(
        null=True, blank=True, help_text="Model versions, all models together. Empty: default."
    )
    quota_deadline_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Largest deadline_ms of a service. Empty: default."
    )
    quota_timeout_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Largest timeout_ms in a version's metadata. Empty: default."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class ApiToken(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=200)
    # Shown in lists so a user can tell tokens apart without the secret ever being shown again.
    prefix = models.CharField(max_length=8, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.tenant.slug}: {self.name} (rdv_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        """``admin`` implies every other scope within the token's own tenant."""
        return scope in self.scopes or "admin" in self.scopes


class Membership(models.Model):
    """A console user's place in a tenant (*extension (console)*): non-staff users see only the tenants they
    are members of. The role is recorded now and enforced by the console's actions (issue 18 builds signup
    and invitations on it); reading needs any role."""

    class Role(models.TextChoices):
        OWNER = "owner"
        DEPLOYER = "deployer"
        VIEWER = "viewer"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant__slug", "user_id"]
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="tenancy_one_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant.slug} ({self.role})"
