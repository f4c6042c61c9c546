"""The ACL rules and security settings as plain data (no broker): what each principal is granted."""

from __future__ import annotations

import pytest

from contracts.kafka import AclBinding, KafkaSettings
from contracts.kafka.acls import platform_acls, role_env, tenant_group_acls, tenant_service_acls
from contracts.topics import CONFIG_TOPIC


def test_a_tenant_gets_literal_write_on_its_requests_and_read_on_its_results_only() -> None:
    grants = tenant_service_acls("acme", "fraud")
    assert {(b.name, b.operation, b.pattern, b.allow) for b in grants} == {
        ("rdv.acme.fraud.requests", "write", "literal", True),
        ("rdv.acme.fraud.requests", "describe", "literal", True),
        ("rdv.acme.fraud.results", "read", "literal", True),
        ("rdv.acme.fraud.results", "describe", "literal", True),
    }
    assert {b.principal for b in grants} == {"tenant-acme"}


def test_a_tenants_group_prefix_ends_at_its_slug() -> None:
    """Tenant ``a`` must not get tenant ``a-b``'s groups: the prefix carries a dot no slug contains."""
    [group] = tenant_group_acls("a")
    assert group == AclBinding("tenant-a", "group", "tenant-a.", "read", "prefixed")
    assert not "tenant-a-b.app".startswith(group.name)


def test_only_the_control_plane_may_write_the_config() -> None:
    grants = platform_acls()
    denied = {b.principal for b in grants if b.name == CONFIG_TOPIC and b.operation == "write" and not b.allow}
    assert denied == {"rdv-runner", "rdv-rendezvous"}
    assert not any(b.principal == "rdv-controlplane" and not b.allow for b in grants)
    cluster = {b.principal for b in grants if b.resource == "cluster"}
    assert cluster == {"rdv-controlplane"}


def test_role_env_switches_the_principal_and_is_empty_without_credentials() -> None:
    environ = {"RDV_KAFKA_RUNNER_USERNAME": "rdv-runner", "RDV_KAFKA_RUNNER_PASSWORD": "pw"}
    assert role_env("runner", environ) == {"RDV_KAFKA_USERNAME": "rdv-runner", "RDV_KAFKA_PASSWORD": "pw"}
    assert role_env("rendezvous", environ) == {}


def test_security_settings_come_from_the_environment_and_sasl_needs_credentials() -> None:
    settings = KafkaSettings.from_env(
        {"RDV_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "RDV_KAFKA_USERNAME": "u", "RDV_KAFKA_PASSWORD": "secret"}
    )
    assert settings.security_protocol == "SASL_SSL" and settings.username == "u"
    assert settings.sasl_mechanism == "SCRAM-SHA-512"
    assert "secret" not in repr(settings)
    with pytest.raises(ValueError, match="RDV_KAFKA_USERNAME"):
        KafkaSettings.from_env({"RDV_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"})
    with pytest.raises(ValueError, match="RDV_KAFKA_SECURITY_PROTOCOL"):
        KafkaSettings.from_env({"RDV_KAFKA_SECURITY_PROTOCOL": "SSL-ish"})
