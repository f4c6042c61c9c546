"""Tenants' Kafka credentials and ACLs through the control plane (issue 14, point 3), on the real broker.

The control plane runs here as its own principal (rdv-controlplane), so these tests also prove that
its ACLs suffice to create topics and to manage tenants' credentials and ACLs.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from contracts.kafka import KafkaAuthorizationError, KafkaSettings
from contracts.kafka.acls import role_env
from contracts.topics import CONFIG_TOPIC, service_topics
from controlplane.kafka import close_producer
from controlplane.routing.services import service_create, service_delete
from controlplane.tenancy.models import Tenant
from tests.factories import TenantFactory
from tests.kafka_auth import consume_outcome, produce_outcome

pytestmark = pytest.mark.django_db

URL = "/api/v1/tenants/{}/kafka-credentials"
SCHEMA = {"type": "object"}


@pytest.fixture(autouse=True)
def as_control_plane(settings, kafka) -> None:  # noqa: ANN001
    principal = role_env("controlplane", os.environ)
    settings.RDV_KAFKA = settings.RDV_KAFKA.as_user(principal["RDV_KAFKA_USERNAME"], principal["RDV_KAFKA_PASSWORD"])
    close_producer()
    yield
    close_producer()


def issue(client: APIClient, tenant: Tenant) -> dict:
    answer = client.post(URL.format(tenant.slug))
    assert answer.status_code == 201, answer.content
    return answer.json()


def as_tenant(credentials: dict, client: str = "confluent") -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=credentials["bootstrap_servers"],
        client=client,  # type: ignore[arg-type]
        security_protocol=credentials["security_protocol"],
        sasl_mechanism=credentials["mechanism"],
        username=credentials["username"],
        password=credentials["password"],
    )


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_issued_credentials_reach_only_the_tenants_own_topics(client: str, client_for: Callable) -> None:
    tenant, other = TenantFactory(), TenantFactory()
    for owner in (tenant, other):
        service_create(tenant=owner, slug="svc", name="Svc", input_schema=SCHEMA, partitions=2)

    credentials = issue(client_for(tenant, ("admin",)), tenant)

    assert credentials["username"] == f"tenant-{tenant.slug}"
    assert credentials["group_prefix"] == f"tenant-{tenant.slug}."
    mine, theirs = service_topics(tenant.slug, "svc"), service_topics(other.slug, "svc")
    kafka = as_tenant(credentials, client)
    assert produce_outcome(kafka, mine.requests) is None
    for forbidden in (theirs.requests, mine.results, CONFIG_TOPIC):
        assert isinstance(produce_outcome(kafka, forbidden), KafkaAuthorizationError), forbidden
    assert produce_outcome(django_settings.RDV_KAFKA, mine.results) is None
    group = f"{credentials['group_prefix']}app"
    assert consume_outcome(kafka, mine.results, group) == b"probe"
    assert isinstance(consume_outcome(kafka, theirs.results, group), KafkaAuthorizationError)


def test_a_service_created_later_is_reachable_and_a_deleted_one_no_longer(
    client_for: Callable, django_capture_on_commit_callbacks: Callable
) -> None:
    tenant = TenantFactory()
    kafka = as_tenant(issue(client_for(tenant, ("admin",)), tenant))
    service = service_create(tenant=tenant, slug="late", name="Late", input_schema=SCHEMA, partitions=2)
    requests = service_topics(tenant.slug, "late").requests
    assert produce_outcome(kafka, requests) is None

    with django_capture_on_commit_callbacks(execute=True):
        service_delete(service=service)

    assert isinstance(produce_outcome(kafka, requests), KafkaAuthorizationError)


def test_rotating_replaces_the_password_and_deleting_ends_the_login(client_for: Callable) -> None:
    tenant = TenantFactory()
    service_create(tenant=tenant, slug="svc", name="Svc", input_schema=SCHEMA, partitions=2)
    admin = client_for(tenant, ("admin",))
    first = issue(admin, tenant)
    second = issue(admin, tenant)
    topics = service_topics(tenant.slug, "svc")
    group = f"{first['group_prefix']}app"
    assert produce_outcome(django_settings.RDV_KAFKA, topics.results) is None

    assert isinstance(consume_outcome(as_tenant(first), topics.results, group), KafkaAuthorizationError)
    assert consume_outcome(as_tenant(second), topics.results, group) == b"probe"

    assert admin.delete(URL.format(tenant.slug)).status_code == 204
    assert isinstance(consume_outcome(as_tenant(second), topics.results, group), KafkaAuthorizationError)


def test_issuing_credentials_needs_the_admin_scope(client_for: Callable) -> None:
    tenant = TenantFactory()
    answer = client_for(tenant, ("read", "deploy", "predict")).post(URL.format(tenant.slug))
    assert answer.status_code == 403
    other = TenantFactory()
    assert client_for(other, ("admin",)).post(URL.format(tenant.slug)).status_code in (403, 404)
