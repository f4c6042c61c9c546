"""Property-based API test: every documented operation, driven from the app's own OpenAPI document.

Generated requests (valid and invalid) go through the WSGI app with a valid admin token of a tenant
that has a service, a model with a ready version and a spare token, and the path names those, so most
calls reach the code behind the checks instead of stopping at 403/404. No answer may be a 5xx, and
every answer with a documented status must match its documented schema. Predict lives in the gateway
and needs workers, so it is not part of this document.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from contracts.kafka import Admin
from controlplane.monitoring.services import RecordDecisions, rollups_store
from controlplane.rollouts.services import rollout_start
from controlplane.routing.services import deployments_replace
from controlplane.tenancy.services import token_create
from tests.controlplane.drift.builders import drift_store_recent
from tests.controlplane.monitoring.builders import random_decisions
from tests.factories import ModelFactory, ModelVersionFactory, ServiceFactory

MAX_EXAMPLES = 20

config = schemathesis.Config.from_dict(
    {"generation": {"max-examples": MAX_EXAMPLES}, "phases": {"stateful": {"enabled": False}}}
)
schema = schemathesis.openapi.from_wsgi("/api/v1/schema", get_wsgi_application(), config=config).exclude(
    # Predict needs running workers (the end-to-end tests cover it). The runners' internal paths stay in: with a
    # tenant token and generated signatures they must answer their documented refusals (401, 400, 403).
    path_regex=r"/predict$"
)


@dataclass(frozen=True)
class World:
    path: dict[str, object]
    secret: str


@pytest.fixture
def keep_connection() -> Iterator[None]:
    """The WSGI handler closes the database connection after each request; the test's transaction lives on it.

    Django's own test client disconnects the same handlers for the same reason.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(db: None, kafka: Admin, keep_connection: None) -> World:
    service = ServiceFactory()
    tenant = service.tenant
    model = ModelFactory(tenant=tenant, slug="iris")
    ModelVersionFactory(model=model)
    ModelVersionFactory(model=model)
    deployments_replace(service=service, deployments=[{"model": "iris", "version": 1, "role": "champion"}], actor="t")
    rollout = rollout_start(service=service, model="iris", version=2, step_seconds=60, actor="t")
    drift_store_recent(service)  # GET …/drift answers points, not only an empty list
    # Roll-ups, so GET …/metrics answers deployments (nullable fields included) for the schema to check.
    decisions = random_decisions(tenant.slug, service.slug, 50, seed=1, decided_at=time.time())
    rollups_store(records=[RecordDecisions(service.pk, f"rdv.{tenant.slug}.{service.slug}.decisions", 0, 0, decisions)])
    _, secret = token_create(tenant=tenant, name="schemathesis", scopes=["admin"])
    # Revoking the spare token must not revoke the one the test authenticates with.
    spare, _ = token_create(tenant=tenant, name="spare", scopes=["read"])
    path = {"tenant": tenant.slug, "service": service.slug, "model": model.slug, "version": 1, "token_id": spare.pk,
            "rollout_id": rollout.pk}
    return World(path=path, secret=secret)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_server_errors_and_answers_match_the_schema(case: schemathesis.Case, world: World) -> None:
    for name in case.path_parameters or {}:
        if name in world.path:
            case.path_parameters[name] = world.path[name]
    case.call_and_validate(
        headers={"Authorization": f"Bearer {world.secret}"}, checks=[not_a_server_error, response_schema_conformance]
    )
