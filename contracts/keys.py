"""Named keys: one definition each, instead of tuple aliases that meant different things in different
modules. They are NamedTuples, so a plain ``(tenant, service)`` tuple still equals and hashes like its key."""

from __future__ import annotations

from typing import NamedTuple


class ServiceKey(NamedTuple):
    tenant: str
    service: str

    def __str__(self) -> str:
        return f"{self.tenant}/{self.service}"
