"""Domain errors raised by services and selectors; the API maps each to a status and a JSON body.

They carry no HTTP knowledge so that the admin, management commands and Celery tasks can raise and
catch the same errors the REST API answers with.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"

    def __init__(self, detail: Any) -> None:
        super().__init__(detail if isinstance(detail, str) else repr(detail))
        self.detail = detail


class InvalidInput(DomainError):
    """The request names things that do not exist or breaks a rule of its own shape (400)."""

    code = "invalid"


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    """The caller is who it says, but may not have this (403): e.g. a pool asking for another pool's artifact."""

    code = "forbidden"


class ConflictError(DomainError):
    """The request is well-formed but the current state forbids it, e.g. a version not yet ready (409)."""

    code = "conflict"


class QuotaExceeded(DomainError):
    """One more service, model or version would pass the tenant's quota (409 ``quota_exceeded``)."""

    code = "quota_exceeded"


class TooLarge(DomainError):
    """The upload or batch is above the configured limit (413)."""

    code = "too_large"


class StreamUnavailable(DomainError):
    """Kafka did not acknowledge in time; the database change may already be committed (503)."""

    code = "stream_unavailable"
