"""The broker's credentials in tests: scripts/test.sh exports the admin's (a super user) and every
platform role's (``RDV_KAFKA_<ROLE>_USERNAME``/``PASSWORD``), as ``scripts/kafka.sh env`` prints them.

Tests connect as the admin; the workers they start run as their own role's principal, so the suite
proves the platform's ACLs (contracts/kafka/acls.py) are enough for it.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from contracts.kafka import KafkaSettings
from contracts.kafka.acls import PlatformRole, role_env

SECURITY_VARS = ("RDV_KAFKA_SECURITY_PROTOCOL", "RDV_KAFKA_SASL_MECHANISM", "RDV_KAFKA_USERNAME", "RDV_KAFKA_PASSWORD")


def security_env() -> dict[str, str]:
    """The admin's security settings, for a ``KafkaSettings.from_env`` built from a dict of its own."""
    return {name: os.environ[name] for name in SECURITY_VARS if name in os.environ}


def worker_env(role: PlatformRole) -> dict[str, str]:
    """The security settings a process of ``role`` is started with."""
    return {**security_env(), **role_env(role, os.environ)}


def kafka_settings(bootstrap: str, client: str = "confluent", **overrides: Any) -> KafkaSettings:
    """The admin's settings on ``bootstrap`` with ``client``; ``overrides`` replace fields."""
    settings = KafkaSettings.from_env({"RDV_KAFKA_BOOTSTRAP": bootstrap, "RDV_KAFKA_CLIENT": client, **security_env()})
    return replace(settings, **overrides)
