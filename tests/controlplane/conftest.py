"""Fixtures shared by the control-plane tests: API clients with tokens, trained artifacts, the broker."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from contracts.kafka import Admin, Consumer, TopicPartition, make_admin, make_consumer
from contracts.topics import CONFIG_TOPIC
from controlplane.kafka import close_producer, platform_topics_ensure
from controlplane.tenancy.models import Tenant
from controlplane.tenancy.selectors import token_actor
from controlplane.tenancy.services import token_create
from tests.factories import TenantFactory

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
EXAMPLE = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
IRIS_METADATA = {"features": FEATURES, "example": EXAMPLE}


@pytest.fixture(scope="session")
def iris_skops_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import skops.io
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    path = tmp_path_factory.mktemp("artifacts") / "iris.skops"
    skops.io.dump(LogisticRegression(max_iter=500).fit(features, labels), path)
    return path


@pytest.fixture
def tenant(db: None) -> Tenant:
    return TenantFactory()


@pytest.fixture
def client_for() -> Callable[..., APIClient]:
    """An API client authenticated with a fresh token of ``tenant`` carrying ``scopes``.

    ``client.actor`` is how audit entries and revisions name that token.
    """

    def make(tenant: Tenant, scopes: tuple[str, ...] = ("read", "deploy", "predict")) -> APIClient:
        token, secret = token_create(tenant=tenant, name="test", scopes=scopes)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        client.token = token  # type: ignore[attr-defined]
        client.actor = token_actor(token=token)  # type: ignore[attr-defined]
        return client

    return make


@pytest.fixture(scope="session")
def kafka(kafka_bootstrap: str) -> Iterator[Admin]:
    """The real broker the settings point at, with the platform topics in place."""
    assert settings.RDV_KAFKA.bootstrap_servers == kafka_bootstrap
    platform_topics_ensure()
    admin = make_admin(settings.RDV_KAFKA)
    yield admin
    admin.close()
    # Close the process-wide producer while logging still works (kafka-python logs on shutdown).
    close_producer()


ConfigReader = Callable[[str], list[bytes | None]]


@pytest.fixture
def config_reader(kafka: Admin) -> Iterator[Callable[..., list[bytes | None]]]:
    """Reads back what was written to ``rdv.config`` after the fixture was created, for one key."""
    consumer: Consumer = make_consumer(settings.RDV_KAFKA, group_id=None)
    _, start = consumer.watermarks(CONFIG_TOPIC, 0)

    def read(key: str, *, count: int = 1, timeout: float = 15.0) -> list[bytes | None]:
        consumer.assign([TopicPartition(CONFIG_TOPIC, 0, start)])
        values: list[bytes | None] = []
        deadline = time.monotonic() + timeout
        while len(values) < count and time.monotonic() < deadline:
            record = consumer.poll(0.5)
            if record is not None and record.key == key.encode():
                values.append(record.value)
        return values

    yield read
    consumer.close()
