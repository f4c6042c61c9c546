"""Who may read and write what on the broker: the one place the platform's Kafka ACLs are defined.

The broker denies whatever no ACL allows (``allow.everyone.if.no.acl.found=false``); ``rdv-admin`` is
its only super user and is used for bootstrap alone. Every other process connects as its own
principal (DESIGN.md §3 *Authentication and ACLs*):

* ``rdv-controlplane`` (web/gateway, Celery, the decisions and status consumers): creates and deletes
  topics, the only writer of ``rdv.config``, writes requests (the gateway), reads decisions, status,
  replies and archives, and manages tenants' ACLs and SCRAM credentials (ALTER on the cluster, which is
  as strong as the admin: the control plane is the root of trust for tenants).
* ``rdv-runner`` and ``rdv-rendezvous``: read and write the platform's topics (every service's topics
  are created on the fly and named by a prefix, so a worker's ACLs cover ``rdv.`` by prefix) but are
  DENIED writing ``rdv.config``; each joins only its own consumer groups.
* ``tenant-<slug>``: WRITE on its services' ``requests`` topics and READ on their ``results`` topics,
  literal names, plus consumer groups named ``tenant-<slug>.…``; nothing else.

Django-free: ``python -m contracts.kafka.platform_acls`` applies the platform's part at broker start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from contracts.kafka.base import AclBinding, AclOperation
from contracts.settings_catalog import read_str
from contracts.topics import CONFIG_TOPIC, service_topics

PlatformRole = Literal["admin", "controlplane", "runner", "rendezvous"]
PLATFORM_ROLES: tuple[PlatformRole, ...] = ("admin", "controlplane", "runner", "rendezvous")
# Every platform topic, and every service's, starts with this (contracts/topics.py).
TOPIC_PREFIX = "rdv."
# Group-less consumers of the confluent backend still carry this group id (never joined, never committed).
UNMANAGED_GROUP = "rdv-unmanaged"
# The consumer groups each worker role joins (a prefix each: the pool or a test suffix follows).
WORKER_GROUP_PREFIXES: dict[PlatformRole, tuple[str, ...]] = {
    "controlplane": ("rdv-decisions", "rdv-status", "rdv-drift", "rdv-rollups"),
    "runner": ("rdv-runner-", "rdv-decoy-", "rdv-canary-"),
    "rendezvous": ("rdv-rendezvous",),
}


def platform_principal(role: PlatformRole) -> str:
    """The Kafka user of a platform role (scripts/kafka.sh creates them with these names)."""
    return f"rdv-{role}"


def role_env(role: PlatformRole, environ: Mapping[str, str]) -> dict[str, str]:
    """The ``RDV_KAFKA_USERNAME``/``PASSWORD`` a process of ``role`` runs with, taken from the
    ``RDV_KAFKA_<ROLE>_USERNAME``/``PASSWORD`` lines ``scripts/kafka.sh env`` prints. Empty when they
    are absent (a broker without authentication): the process then keeps what it inherits."""
    prefix = f"RDV_KAFKA_{role.upper()}_"
    username, password = read_str(environ, f"{prefix}USERNAME"), read_str(environ, f"{prefix}PASSWORD")
    if not (username and password):
        return {}
    return {"RDV_KAFKA_USERNAME": username, "RDV_KAFKA_PASSWORD": password}


def tenant_principal(tenant: str) -> str:
    """The Kafka user of a tenant that produces directly; derived from the slug, so nothing is stored."""
    return f"tenant-{tenant}"


def tenant_group_prefix(tenant: str) -> str:
    """The consumer groups a tenant may use. The dot ends the slug, so tenant ``a`` never gets ``a-b``'s."""
    return f"tenant-{tenant}."


def _topic(principal: str, operations: tuple[AclOperation, ...], name: str, *, prefixed: bool) -> list[AclBinding]:
    pattern = "prefixed" if prefixed else "literal"
    return [AclBinding(principal, "topic", name, op, pattern) for op in operations]


def _groups(principal: str, prefixes: tuple[str, ...]) -> list[AclBinding]:
    bindings = [AclBinding(principal, "group", prefix, "read", "prefixed") for prefix in prefixes]
    return [*bindings, AclBinding(principal, "group", UNMANAGED_GROUP, "read")]


def _worker_acls(role: PlatformRole) -> list[AclBinding]:
    principal = platform_principal(role)
    return [
        *_topic(principal, ("read", "write", "describe", "create", "describe_configs"), TOPIC_PREFIX, prefixed=True),
        # Only the control plane publishes configuration: a worker that could write rdv.config could
        # reroute any tenant's traffic. DENY wins over the prefixed ALLOW above.
        AclBinding(principal, "topic", CONFIG_TOPIC, "write", allow=False),
        *_groups(principal, WORKER_GROUP_PREFIXES[role]),
    ]


def _controlplane_acls() -> list[AclBinding]:
    principal = platform_principal("controlplane")
    topic_ops: tuple[AclOperation, ...] = ("read", "write", "describe", "create", "delete", "describe_configs")
    return [
        *_topic(principal, topic_ops, TOPIC_PREFIX, prefixed=True),
        *_groups(principal, WORKER_GROUP_PREFIXES["controlplane"]),
        # Tenants' ACLs and SCRAM credentials (CreateAcls, DeleteAcls, AlterUserScramCredentials).
        AclBinding(principal, "cluster", "kafka-cluster", "alter"),
        AclBinding(principal, "cluster", "kafka-cluster", "describe"),
    ]


def platform_acls() -> list[AclBinding]:
    """Every ACL of the platform's own principals (the admin needs none: it is the super user)."""
    return [*_controlplane_acls(), *_worker_acls("runner"), *_worker_acls("rendezvous")]


def tenant_service_acls(tenant: str, service: str) -> list[AclBinding]:
    """What a tenant may do on one of its services: produce requests, consume results."""
    principal = tenant_principal(tenant)
    topics = service_topics(tenant, service)
    return [
        *_topic(principal, ("write", "describe"), topics.requests, prefixed=False),
        *_topic(principal, ("read", "describe"), topics.results, prefixed=False),
    ]


def tenant_group_acls(tenant: str) -> list[AclBinding]:
    return [AclBinding(tenant_principal(tenant), "group", tenant_group_prefix(tenant), "read", "prefixed")]
