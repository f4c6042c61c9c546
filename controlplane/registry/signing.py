"""Short-lived signed artifact download URLs: pure functions over plain data, the time passed in.

The control plane signs ``(tenant, model, version, sha256, pool, expires)`` with a key derived from
RDV_RUNNER_SECRET; the download endpoint recomputes the signature and needs no other credential, so
a URL is worth exactly one artifact for a minute, to whoever holds it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlencode

# Domain separation from the pool tokens (contracts.pool_tokens) derived from the same secret.
_URL_LABEL = b"rendezvous artifact url v1\x00"


@dataclass(frozen=True, slots=True)
class ArtifactClaim:
    """What a signed URL grants: this version's bytes, fetched by a runner of this pool, until ``expires``."""

    tenant: str
    model: str
    version: int
    sha256: str
    pool: str
    expires: int  # Unix seconds

    def message(self) -> bytes:
        # Slugs and hex never contain a newline, so the fields cannot run into each other.
        fields = (self.tenant, self.model, str(self.version), self.sha256, self.pool, str(self.expires))
        return "\n".join(fields).encode()


class SignatureError(ValueError):
    """The URL was not signed by this control plane, was altered, or has expired."""


def claim_sign(*, secret: str, claim: ArtifactClaim) -> str:
    key = hmac.new(secret.encode(), _URL_LABEL, hashlib.sha256).digest()
    return hmac.new(key, claim.message(), hashlib.sha256).hexdigest()


def claim_verify(*, secret: str, claim: ArtifactClaim, signature: str, now: float) -> None:
    """Raise ``SignatureError`` unless ``signature`` signs ``claim`` and it has not expired at ``now``."""
    expected = claim_sign(secret=secret, claim=claim)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise SignatureError("the signature does not match")
    if now >= claim.expires:
        raise SignatureError("the URL has expired")


def claim_query(*, claim: ArtifactClaim, signature: str) -> str:
    """The query string of the download URL (the sha256 is in its path)."""
    return urlencode(
        {
            "tenant": claim.tenant,
            "model": claim.model,
            "version": claim.version,
            "pool": claim.pool,
            "expires": claim.expires,
            "signature": signature,
        }
    )
