"""Acceptance of the broker's authentication and ACLs (issue 14, point 3), against the real broker.

The test broker (scripts/kafka.sh) runs the SASL/SCRAM listener with the StandardAuthorizer; the
platform's ACLs were applied when it started. Here a tenant gets exactly what the control plane gives
it (contracts/kafka/acls.py), and every refusal must come from the broker.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from contracts.kafka import (
    KafkaAuthorizationError,
    KafkaError,
    KafkaSettings,
    make_admin,
    make_producer,
)
from contracts.kafka.acls import (
    platform_acls,
    role_env,
    tenant_group_acls,
    tenant_group_prefix,
    tenant_principal,
    tenant_service_acls,
)
from contracts.topics import CONFIG_TOPIC, STATUS_TOPIC, ServiceTopics, service_topics
from contracts.topology import platform_topics, service_topic_specs
from tests.kafka_auth import consume_outcome, kafka_settings, produce_outcome

CLIENTS = ["confluent", "kafka-python"]


@dataclass
class Tenants:
    admin: KafkaSettings
    a: KafkaSettings  # tenant A's own credentials
    a_slug: str
    a_topics: ServiceTopics
    b_topics: ServiceTopics


@pytest.fixture(params=CLIENTS)
def tenants(request: pytest.FixtureRequest, kafka_bootstrap: str) -> Iterator[Tenants]:
    admin_settings = kafka_settings(kafka_bootstrap, request.param)
    suffix = uuid.uuid4().hex[:8]
    a_slug, b_slug = f"a-{suffix}", f"b-{suffix}"
    admin = make_admin(admin_settings)
    admin.ensure_topics(platform_topics())
    for slug in (a_slug, b_slug):
        admin.ensure_topics(service_topic_specs(slug, "svc", 2))
    password = secrets.token_urlsafe(24)
    admin.upsert_scram_credential(tenant_principal(a_slug), password)
    admin.create_acls([*tenant_service_acls(a_slug, "svc"), *tenant_group_acls(a_slug)])
    # Tenant B exists with its own grants, so A is refused for what it lacks, not for an empty broker.
    admin.create_acls([*tenant_service_acls(b_slug, "svc"), *tenant_group_acls(b_slug)])
    try:
        yield Tenants(
            admin=admin_settings,
            a=admin_settings.as_user(tenant_principal(a_slug), password),
            a_slug=a_slug,
            a_topics=service_topics(a_slug, "svc"),
            b_topics=service_topics(b_slug, "svc"),
        )
    finally:
        admin.delete_acls([*tenant_service_acls(a_slug, "svc"), *tenant_service_acls(b_slug, "svc")])
        admin.delete_acls([*tenant_group_acls(a_slug), *tenant_group_acls(b_slug)])
        admin.delete_scram_credential(tenant_principal(a_slug))
        admin.close()


def test_a_tenant_produces_to_its_own_requests_and_reads_its_own_results(tenants: Tenants) -> None:
    assert produce_outcome(tenants.a, tenants.a_topics.requests) is None
    assert produce_outcome(tenants.admin, tenants.a_topics.results) is None
    group = f"{tenant_group_prefix(tenants.a_slug)}reader"
    assert consume_outcome(tenants.a, tenants.a_topics.results, group) == b"probe"


@pytest.mark.parametrize("kind", ["requests", "results", "scores", "decisions"])
def test_a_tenant_cannot_write_another_tenants_topics(tenants: Tenants, kind: str) -> None:
    refusal = produce_outcome(tenants.a, getattr(tenants.b_topics, kind))
    assert isinstance(refusal, KafkaAuthorizationError), refusal


def test_a_tenant_cannot_write_its_own_results_or_the_config(tenants: Tenants) -> None:
    for topic in (tenants.a_topics.results, tenants.a_topics.decisions, CONFIG_TOPIC):
        refusal = produce_outcome(tenants.a, topic)
        assert isinstance(refusal, KafkaAuthorizationError), (topic, refusal)


@pytest.mark.parametrize("kind", ["requests", "results", "decisions"])
def test_a_tenant_cannot_read_another_tenants_topics(tenants: Tenants, kind: str) -> None:
    topic = getattr(tenants.b_topics, kind)
    assert produce_outcome(tenants.admin, topic) is None
    group = f"{tenant_group_prefix(tenants.a_slug)}spy"
    assert isinstance(consume_outcome(tenants.a, topic, group), KafkaAuthorizationError)
    assert isinstance(consume_outcome(tenants.a, topic, None), KafkaAuthorizationError)


def test_a_tenant_cannot_read_the_config_or_use_a_group_outside_its_prefix(tenants: Tenants) -> None:
    group = f"{tenant_group_prefix(tenants.a_slug)}cfg"
    assert isinstance(consume_outcome(tenants.a, CONFIG_TOPIC, group), KafkaAuthorizationError)
    assert produce_outcome(tenants.admin, tenants.a_topics.results) is None
    outcome = consume_outcome(tenants.a, tenants.a_topics.results, "rdv-rendezvous")
    assert isinstance(outcome, KafkaAuthorizationError), outcome


def test_removing_the_acls_ends_the_access(tenants: Tenants) -> None:
    assert produce_outcome(tenants.a, tenants.a_topics.requests) is None
    admin = make_admin(tenants.admin)
    try:
        assert admin.delete_acls(tenant_service_acls(tenants.a_slug, "svc")) == 4
    finally:
        admin.close()
    refusal = produce_outcome(tenants.a, tenants.a_topics.requests)
    assert isinstance(refusal, KafkaAuthorizationError), refusal


def test_a_wrong_password_is_refused(kafka_bootstrap: str, tenants: Tenants) -> None:
    """librdkafka reports the failed login to a consumer (kafka-python only retries its bootstrap)."""
    impostor = kafka_settings(kafka_bootstrap, "confluent").as_user(tenants.a.username, "not-the-password")
    group = f"{tenant_group_prefix(tenants.a_slug)}impostor"
    assert isinstance(consume_outcome(impostor, tenants.a_topics.results, group), KafkaAuthorizationError)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("role", ["runner", "rendezvous"])
def test_workers_cannot_write_the_config_but_write_their_own_topics(kafka_bootstrap: str, client: str, role) -> None:
    admin = make_admin(kafka_settings(kafka_bootstrap, client))
    admin.ensure_topics(platform_topics())
    admin.close()
    principal = role_env(role, os.environ)
    worker = kafka_settings(kafka_bootstrap, client).as_user(
        principal["RDV_KAFKA_USERNAME"], principal["RDV_KAFKA_PASSWORD"]
    )
    refusal = produce_outcome(worker, CONFIG_TOPIC)
    assert isinstance(refusal, KafkaAuthorizationError), refusal
    assert produce_outcome(worker, STATUS_TOPIC) is None


def test_the_control_plane_writes_the_config(kafka_bootstrap: str) -> None:
    principal = role_env("controlplane", os.environ)
    control = kafka_settings(kafka_bootstrap).as_user(principal["RDV_KAFKA_USERNAME"], principal["RDV_KAFKA_PASSWORD"])
    assert produce_outcome(control, CONFIG_TOPIC) is None


def test_an_anonymous_plaintext_client_gets_nothing(kafka_bootstrap: str) -> None:
    anonymous = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    outcome: list[KafkaError | None] = []
    producer = make_producer(anonymous, **{"message.timeout.ms": 3000})
    try:
        producer.produce(STATUS_TOPIC, b"anonymous", on_delivery=lambda err, _tp: outcome.append(err))
        producer.flush(8)
        producer.poll(1)
    finally:
        producer.close()
    assert outcome and outcome[0] is not None, outcome  # never acknowledged
    admin = make_admin(anonymous)
    try:
        with pytest.raises(KafkaError):
            admin.partition_count(CONFIG_TOPIC)
    finally:
        admin.close()


def test_the_platform_acls_are_on_the_broker(kafka_bootstrap: str) -> None:
    """scripts/kafka.sh applied them at start: what the broker holds is what the contract defines."""
    admin = make_admin(kafka_settings(kafka_bootstrap))
    try:
        on_broker = {
            binding
            for principal in ("rdv-controlplane", "rdv-runner", "rdv-rendezvous")
            for binding in admin.describe_acls(principal)
        }
    finally:
        admin.close()
    assert set(platform_acls()) <= on_broker
