"""Each test gets a service of its own (unique tenant, topics, consumer group) and real workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from contracts.config import DeploymentSpec
from tests.rendezvous_worker.integration.harness import ServiceUnderTest

ServiceFactory = Callable[..., ServiceUnderTest]


@pytest.fixture
def make_service(kafka_bootstrap: str) -> Iterator[ServiceFactory]:
    made: list[ServiceUnderTest] = []

    def make(client: str, deployments: tuple[DeploymentSpec, ...], **options: int) -> ServiceUnderTest:
        service = ServiceUnderTest(kafka_bootstrap, client, deployments, **options)
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()
