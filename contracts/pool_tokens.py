"""Runner pool credentials: ``rdvpool.<pool>.<hmac>``, derived from the control plane's RDV_RUNNER_SECRET.

A pool's runners hold the token of their pool only; the control plane recomputes it from the secret
(nothing to store or revoke per runner: rotating RDV_RUNNER_SECRET re-keys every pool). The pool is
written in the token so a runner cannot claim another pool, and a runner can check at start-up that
its token matches ``RDV_RUNNER_POOL``. Django-free: the runner and the control plane both import it.
"""

from __future__ import annotations

import hashlib
import hmac

from contracts.topics import is_valid_slug

# The development value of RDV_RUNNER_SECRET; production refuses it (contracts.environment).
DEV_RUNNER_SECRET = "dev-runner-secret"
# The literal shared token of earlier releases; production refuses it too.
LEGACY_DEV_RUNNER_TOKEN = "dev-runner-token"

_PREFIX = "rdvpool"
# Domain separation: a pool token and an artifact URL signature never share a MAC input.
_TOKEN_LABEL = b"rendezvous pool token v1\x00"


def pool_token(*, secret: str, pool: str) -> str:
    """The credential of every runner of ``pool`` (``manage.py rdv_runner_token --pool P`` prints it)."""
    if not is_valid_slug(pool):
        raise ValueError(f"pool must be a slug like 'default' or 'gpu-1', not {pool!r}")
    return f"{_PREFIX}.{pool}.{_mac(secret, pool)}"


def pool_of_token(token: str) -> str | None:
    """The pool a token claims (not verified), or None when it is not shaped like a pool token."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _PREFIX or not is_valid_slug(parts[1]):
        return None
    return parts[1]


def pool_token_verify(*, secret: str, token: str) -> str | None:
    """The token's pool when ``secret`` issued it, else None (constant-time comparison)."""
    pool = pool_of_token(token)
    if pool is None:
        return None
    expected = pool_token(secret=secret, pool=pool)
    return pool if hmac.compare_digest(token.encode(), expected.encode()) else None


def _mac(secret: str, pool: str) -> str:
    return hmac.new(secret.encode(), _TOKEN_LABEL + pool.encode(), hashlib.sha256).hexdigest()
