"""Who may download which artifact (DESIGN.md §6, *Artifact access*).

A runner proves its pool with the pool token (contracts.pool_tokens) and asks for one version; the
control plane answers a URL signed for that version and pool, valid RDV_ARTIFACT_URL_TTL_S, only when
the version is deployed to that pool in a service's current routing, or was in a routing replaced
less than RDV_ARTIFACT_DRAIN_S ago (a runner still applying the older revision must finish loading).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.urls import reverse

from controlplane.errors import Forbidden, NotFound
from controlplane.registry.models import ModelVersion
from controlplane.registry.signing import ArtifactClaim, SignatureError, claim_query, claim_sign, claim_verify
from controlplane.routing.models import ConfigRevision, Deployment, Service
from controlplane.routing.tables import table_from_snapshot


@dataclass(frozen=True, slots=True)
class ArtifactGrant:
    url: str
    expires: int


def artifact_grant_url(*, tenant: str, model: str, version: int) -> str:
    """Where a runner asks for a signed URL (``DeploymentSpec.artifact_url``)."""
    path = reverse("internal-artifact-grant", kwargs={"tenant": tenant, "model": model, "version": version})
    return f"{settings.RDV_PUBLIC_URL}{path}"


def _version(*, tenant: str, model: str, version: int) -> ModelVersion:
    found = (
        ModelVersion.objects.filter(model__tenant__slug=tenant, model__slug=model, number=version)
        .exclude(artifact="")
        .select_related("model__tenant")
        .first()
    )
    if found is None:
        raise NotFound(f"no artifact for {tenant}/{model} v{version}")
    return found


def version_routed_to_pool(*, version: ModelVersion, pool: str, drained_since: datetime) -> bool:
    """Deployed (any role) to ``pool`` now, or in a routing that was still live at ``drained_since``."""
    if Deployment.objects.filter(version=version, pool=pool).exists():
        return True
    wanted = (version.model.slug, version.number, pool)
    for service in Service.objects.filter(tenant_id=version.model.tenant_id).only("pk"):
        revisions = list(
            ConfigRevision.objects.filter(service=service, created_at__gte=drained_since).order_by("-number")
        )
        # The revision the oldest recent one replaced was live until then: it is still draining.
        before = ConfigRevision.objects.filter(service=service, created_at__lt=drained_since).order_by("-number")
        revisions += list(before[:1]) if revisions else []
        for revision in revisions:
            rows = table_from_snapshot(snapshot=revision.snapshot)
            if any((row["model"], row["version"], row["pool"]) == wanted for row in rows):
                return True
    return False


def artifact_grant(*, tenant: str, model: str, version: int, pool: str, now: float) -> ArtifactGrant:
    """A signed download URL for a runner of ``pool``; Forbidden when the pool does not serve the version."""
    found = _version(tenant=tenant, model=model, version=version)
    drained_since = datetime.fromtimestamp(now, tz=UTC) - timedelta(seconds=settings.RDV_ARTIFACT_DRAIN_S)
    if not version_routed_to_pool(version=found, pool=pool, drained_since=drained_since):
        raise Forbidden(f"{tenant}/{model} v{version} is not deployed to pool {pool!r}")
    claim = ArtifactClaim(
        tenant=tenant,
        model=model,
        version=version,
        sha256=found.sha256,
        pool=pool,
        expires=math.ceil(now) + settings.RDV_ARTIFACT_URL_TTL_S,
    )
    signature = claim_sign(secret=settings.RDV_RUNNER_SECRET, claim=claim)
    path = reverse("internal-artifact", kwargs={"sha256": found.sha256})
    query = claim_query(claim=claim, signature=signature)
    return ArtifactGrant(url=f"{settings.RDV_PUBLIC_URL}{path}?{query}", expires=claim.expires)


def artifact_for_signed_url(*, claim: ArtifactClaim, signature: str, now: float) -> ModelVersion:
    """The version a valid signed URL names; Forbidden when the signature is wrong or expired."""
    try:
        claim_verify(secret=settings.RDV_RUNNER_SECRET, claim=claim, signature=signature, now=now)
    except SignatureError as exc:
        raise Forbidden(f"artifact URL refused: {exc}") from None
    found = _version(tenant=claim.tenant, model=claim.model, version=claim.version)
    if found.sha256 != claim.sha256:
        raise NotFound(f"{claim.tenant}/{claim.model} v{claim.version} is not the artifact {claim.sha256}")
    return found
