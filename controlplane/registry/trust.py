"""Formats that run code when loaded (joblib, pickle, python): who may upload them and where they may run.

DESIGN.md §5: a tenant can never get a pickle loaded. Two operator decisions open the door, and
nothing a tenant sends can make either: the tenant's ``trusted_code`` flag (set in the admin) lets
it upload these formats, and ``RDV_TRUSTED_POOLS`` names the pools whose runners load them (runners
started with ``RDV_RUNNER_TRUSTED=1``). The control plane itself never loads them, not even to
validate (see ``validation.trusted_format_check``).
"""

from __future__ import annotations

from django.conf import settings

from contracts.formats import CODE_FORMATS, SAFE_FORMATS, is_code_format
from controlplane.errors import InvalidInput
from controlplane.registry.models import ModelVersion
from controlplane.tenancy.models import Tenant

__all__ = ["CODE_FORMATS", "SAFE_FORMATS", "deployment_trust_problem", "format_upload_check", "is_code_format",
           "trusted_pools"]


def trusted_pools() -> list[str]:
    return list(settings.RDV_TRUSTED_POOLS)


def format_upload_check(*, tenant: Tenant, format: str) -> None:
    """A tenant the operator has not trusted uploading a code format → 400, saying what to use instead."""
    if is_code_format(format) and not tenant.trusted_code:
        raise InvalidInput(
            {
                "format": (
                    f"format {format!r} runs code when it is loaded, so it is only accepted from tenants the "
                    "operator trusts, and only served by pools the operator marks trusted. Save the model "
                    "with skops (scikit-learn models, loaded safely) or export it to onnx, and upload that."
                )
            }
        )


def deployment_trust_problem(*, version: ModelVersion, pool: str) -> str | None:
    """Why ``version`` may not run in ``pool`` (a code format outside a trusted pool), or None."""
    if not is_code_format(version.format):
        return None
    name = f"{version.model.slug} v{version.number}"
    if not version.model.tenant.trusted_code:
        return f"{name} is {version.format}, which runs code when loaded, and the tenant is not trusted to run code"
    pools = trusted_pools()
    if pool not in pools:
        listed = ", ".join(repr(p) for p in pools) if pools else "none are configured (RDV_TRUSTED_POOLS)"
        return (
            f"{name} is {version.format}, which runs code when loaded: deploy it to a trusted pool, "
            f"not {pool!r} (trusted pools: {listed})"
        )
    return None
