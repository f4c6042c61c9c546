"""Tenants' direct access to Kafka: SCRAM credentials and least-privilege ACLs (DESIGN.md §3 *Authentication and ACLs*).

A tenant that produces directly connects as ``tenant-<slug>`` (derived from the slug, so nothing is
stored here). Its ACLs (contracts/kafka/acls.py) follow its services: granted when a service is
created, removed when it is deleted, and re-granted whenever credentials are issued, so a broker whose
ACLs were lost is repaired by rotating. On a broker without authentication (RDV_KAFKA_SECURITY_PROTOCOL
PLAINTEXT, a development setup) there is nothing to grant and issuing credentials is refused.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from contracts.kafka import AclBinding, Admin, KafkaError, make_admin
from contracts.kafka.acls import tenant_group_acls, tenant_group_prefix, tenant_principal, tenant_service_acls
from controlplane.audit.services import audit_record
from controlplane.errors import ConflictError, StreamUnavailable
from controlplane.tenancy.models import Tenant

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KafkaCredentials:
    username: str
    password: str
    mechanism: str
    security_protocol: str
    bootstrap_servers: str
    group_prefix: str


def kafka_access_enabled() -> bool:
    return settings.RDV_KAFKA.uses_sasl


def _admin() -> Admin:
    return make_admin(settings.RDV_KAFKA)


# How long a grant or a revoke waits for the broker to apply it (below).
ACL_APPLY_TIMEOUT_S = 10.0


def _acls_applied(admin: Admin, principal: str, bindings: Sequence[AclBinding], *, present: bool) -> None:
    """Wait until the broker answering us enforces ``bindings`` (or, ``present=False``, no longer does).

    The controller acknowledges CreateAcls/DeleteAcls once it has committed them; a broker applies them
    from the metadata log a moment later (seconds on a loaded machine). DescribeAcls is answered from
    the broker's own authorizer, so once it agrees, a tenant's next produce sees the new rights: the API
    answers only then. Past the timeout the change is still on its way; we log it rather than fail.
    """
    wanted = set(bindings)
    deadline = time.monotonic() + ACL_APPLY_TIMEOUT_S
    while True:
        held = set(admin.describe_acls(principal))
        if (wanted <= held) if present else not (wanted & held):
            return
        if time.monotonic() >= deadline:
            log.warning("the broker has not yet applied the ACL change for %s after %.0f s", principal,
                        ACL_APPLY_TIMEOUT_S)
            return
        time.sleep(0.05)


def service_kafka_acls_grant(*, tenant_slug: str, service_slug: str) -> None:
    """Let the tenant's principal produce the service's requests and consume its results (idempotent);
    returns once the broker enforces it."""
    if not kafka_access_enabled():
        return
    admin = _admin()
    bindings = [*tenant_service_acls(tenant_slug, service_slug), *tenant_group_acls(tenant_slug)]
    try:
        admin.create_acls(bindings)
        _acls_applied(admin, tenant_principal(tenant_slug), bindings, present=True)
    except KafkaError as exc:
        raise StreamUnavailable(f"could not grant {tenant_principal(tenant_slug)} its topics: {exc}") from exc
    finally:
        admin.close()


def service_kafka_acls_revoke(*, tenant_slug: str, service_slug: str) -> None:
    """Remove the tenant's ACLs on the service's topics. Runs after the delete committed: a failure is
    logged (re-issuing credentials does not re-grant a deleted service, so nothing resurrects it)."""
    if not kafka_access_enabled():
        return
    admin = _admin()
    bindings = tenant_service_acls(tenant_slug, service_slug)
    try:
        admin.delete_acls(bindings)
        _acls_applied(admin, tenant_principal(tenant_slug), bindings, present=False)
    except KafkaError as exc:
        log.error("could not revoke %s's ACLs on %s: %s", tenant_principal(tenant_slug), service_slug, exc)
    finally:
        admin.close()


def tenant_kafka_credentials_issue(*, tenant: Tenant, actor: str = "system") -> KafkaCredentials:
    """Create the tenant's SCRAM credential, or replace it (the old password stops working at once),
    and (re)grant the ACLs of every service it has. The password is returned here only."""
    if not kafka_access_enabled():
        raise ConflictError("the broker runs without authentication (RDV_KAFKA_SECURITY_PROTOCOL=PLAINTEXT)")
    kafka = settings.RDV_KAFKA
    username, password = tenant_principal(tenant.slug), secrets.token_urlsafe(32)
    admin = _admin()
    try:
        admin.upsert_scram_credential(username, password, kafka.sasl_mechanism)
        bindings = [*tenant_group_acls(tenant.slug)]
        for service_slug in tenant.services.values_list("slug", flat=True):
            bindings += tenant_service_acls(tenant.slug, service_slug)
        admin.create_acls(bindings)
        _acls_applied(admin, username, bindings, present=True)
    except KafkaError as exc:
        raise StreamUnavailable(f"could not issue Kafka credentials for {username}: {exc}") from exc
    finally:
        admin.close()
    target = f"kafka-user:{username}"
    audit_record(tenant=tenant, actor=actor, action="kafka_credentials.issue", target=target, diff={})
    return KafkaCredentials(
        username=username,
        password=password,
        mechanism=kafka.sasl_mechanism,
        security_protocol=kafka.security_protocol,
        bootstrap_servers=kafka.bootstrap_servers,
        group_prefix=tenant_group_prefix(tenant.slug),
    )


def tenant_kafka_credentials_revoke(*, tenant: Tenant, actor: str = "system") -> None:
    """Delete the tenant's SCRAM credential (idempotent): it can no longer log in; its ACLs stay with
    its services, harmless without a credential."""
    if not kafka_access_enabled():
        return
    username = tenant_principal(tenant.slug)
    admin = _admin()
    try:
        admin.delete_scram_credential(username, settings.RDV_KAFKA.sasl_mechanism)
    except KafkaError as exc:
        raise StreamUnavailable(f"could not revoke the Kafka credentials of {username}: {exc}") from exc
    finally:
        admin.close()
    target = f"kafka-user:{username}"
    audit_record(tenant=tenant, actor=actor, action="kafka_credentials.revoke", target=target, diff={})
