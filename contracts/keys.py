"""Named keys: one definition each, instead of tuple aliases that meant different things in different
modules. They are NamedTuples, so a plain ``(tenant, service)`` tuple still equals and hashes like its key."""

from __future__ import annotations

from typing import NamedTuple


class ServiceKey(NamedTuple):
    tenant: str
    service: str

    def __str__(self) -> str:
        return f"{self.tenant}/{self.service}"


class ModelVersion(NamedTuple):
    """One version of one model of a service (a deployment's identity in routing, rollouts, decisions)."""

    model: str
    version: int


class VersionDigest(NamedTuple):
    """A model version and the digest of its artifact: what a worker reports it has placed."""

    model: str
    version: int
    sha256: str


class HostedKey(NamedTuple):
    """A version as a runner hosts it: per tenant, per artifact digest."""

    tenant: str
    model: str
    version: int
    sha256: str


class ServiceVersion(NamedTuple):
    """A model version of one service: what the rendezvous judges the health of."""

    tenant: str
    service: str
    model: str
    version: int
