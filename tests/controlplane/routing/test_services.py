"""Services and routing against the real broker: topics exist, and every routing change reaches
``rdv.config`` as a snapshot workers can decode."""

from __future__ import annotations

import pytest
from django.conf import settings

from contracts import ServiceConfig, config_key, decode, service_topics
from contracts.kafka import Admin
from controlplane.errors import ConflictError, InvalidInput
from controlplane.registry.models import ModelVersion
from controlplane.routing.models import ConfigRevision, Service
from controlplane.routing.selectors import deployments_list
from controlplane.routing.services import deployments_replace, service_create, service_delete
from tests.factories import ModelFactory, ModelVersionFactory, ServiceFactory, TenantFactory, unique_slug

SCHEMA = {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}


@pytest.mark.django_db(transaction=True)
def test_service_create_makes_co_partitioned_topics_and_publishes_revision_1(
    kafka: Admin, config_reader
) -> None:  # noqa: ANN001
    tenant = TenantFactory()

    service = service_create(
        tenant=tenant, slug=unique_slug("svc"), name="Svc", input_schema=SCHEMA, deadline_ms=300, partitions=3
    )

    for topic in service_topics(tenant.slug, service.slug).all():
        assert kafka.partition_count(topic) == 3, topic
    [value] = config_reader(config_key(tenant.slug, service.slug))
    snapshot = decode(ServiceConfig, value)
    assert (snapshot.revision, snapshot.deadline_ms, snapshot.partitions, snapshot.deployments) == (
        1,
        300,
        3,
        (),
    )
    assert ConfigRevision.objects.get(service=service, number=1).published_at is not None


@pytest.mark.django_db
def test_an_invalid_input_schema_is_rejected_before_any_topic_exists() -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="input_schema"):
        service_create(tenant=TenantFactory(), slug="svc", name="Svc", input_schema={"type": "nonsense"})
    assert not Service.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_deployments_replace_publishes_a_snapshot_the_workers_can_read(kafka: Admin, config_reader) -> None:  # noqa: ANN001
    service = ServiceFactory()
    model = ModelFactory(tenant=service.tenant, slug="iris")
    v1 = ModelVersionFactory(
        model=model, metadata={"features": ["a", "b"], "example": {"a": 1, "b": 2}, "timeout_ms": 250}
    )
    ModelVersionFactory(model=model)

    revision = deployments_replace(
        service=service,
        deployments=[
            {"model": "iris", "version": 1, "role": "champion", "weight": 90, "rank": 0},
            {"model": "iris", "version": 2, "role": "fallback", "weight": 0, "rank": 1, "pool": "gpu"},
        ],
        actor="test",
    )

    [value] = config_reader(config_key(service.tenant.slug, service.slug))
    snapshot = decode(ServiceConfig, value)
    assert snapshot.revision == revision.number == 1
    champion, fallback = snapshot.deployments
    assert (champion.model, champion.version, champion.role, champion.weight) == ("iris", 1, "champion", 90)
    assert champion.sha256 == v1.sha256 and champion.features == ("a", "b")
    # Runners ask there for a signed download URL with their pool's token (DESIGN.md §6, Artifact access).
    assert champion.artifact_url == (
        f"{settings.RDV_PUBLIC_URL}/api/v1/internal/tenants/{service.tenant.slug}/models/iris/versions/1/artifact-url"
    )
    assert (fallback.role, fallback.rank, fallback.pool) == ("fallback", 1, "gpu")
    assert (champion.timeout_ms, fallback.timeout_ms) == (250, 0), "0: the runner's default scoring timeout"
    revision.refresh_from_db()
    assert revision.published_at is not None and revision.snapshot["revision"] == 1


@pytest.mark.django_db(transaction=True)
def test_service_delete_tombstones_its_config_key(kafka: Admin, config_reader) -> None:  # noqa: ANN001
    service = ServiceFactory()
    key = config_key(service.tenant.slug, service.slug)

    service_delete(service=service)

    assert config_reader(key) == [None]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [ModelVersion.Status.FAILED, ModelVersion.Status.VALIDATING])
def test_a_version_that_is_not_ready_is_a_conflict_and_routing_is_unchanged(status: str) -> None:
    service = ServiceFactory()
    model = ModelFactory(tenant=service.tenant, slug="iris")
    ModelVersionFactory(model=model)
    ModelVersionFactory(model=model, status=status)
    deployments_replace(
        service=service, deployments=[{"model": "iris", "version": 1, "role": "champion"}], actor="t"
    )
    before = deployments_list(service=service)

    with pytest.raises(ConflictError, match=f"iris v2 is {status}"):
        deployments_replace(
            service=service,
            deployments=[
                {"model": "iris", "version": 2, "role": "challenger"},
                {"model": "iris", "version": 1, "role": "champion"},
            ],
            actor="t",
        )

    assert deployments_list(service=service) == before
    assert ConfigRevision.objects.filter(service=service).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("deployments", "fragment"),
    [
        ([{"model": "nope", "version": 1, "role": "champion"}], "unknown model"),
        ([{"model": "iris", "version": 9, "role": "champion"}], "no version 9"),
        ([{"model": "iris", "version": 1, "role": "fallback"}], "at least one champion"),
        ([{"model": "iris", "version": 1, "role": "champion", "weight": 0}], "weight above 0"),
        ([{"model": "iris", "version": 1, "role": "champion"}] * 2, "more than once"),
    ],
)
def test_invalid_routing_tables_are_rejected(deployments: list[dict], fragment: str) -> None:
    service = ServiceFactory()
    ModelVersionFactory(model=ModelFactory(tenant=service.tenant, slug="iris"))

    with pytest.raises(InvalidInput, match=fragment):
        deployments_replace(service=service, deployments=deployments, actor="t")


@pytest.mark.django_db
def test_another_tenants_model_cannot_be_deployed() -> None:
    service = ServiceFactory()
    ModelVersionFactory(model=ModelFactory(tenant=TenantFactory(), slug="iris"))

    with pytest.raises(InvalidInput, match="unknown model"):
        deployments_replace(
            service=service, deployments=[{"model": "iris", "version": 1, "role": "champion"}], actor="t"
        )


@pytest.mark.django_db(transaction=True)
def test_only_a_canary_can_be_the_last_resort_and_the_snapshot_carries_it(config_reader) -> None:  # noqa: ANN001
    service = ServiceFactory()
    model = ModelFactory(tenant=service.tenant, slug="iris")
    ModelVersionFactory(model=model)
    ModelVersionFactory(model=model)
    with pytest.raises(InvalidInput, match="only a canary"):
        deployments_replace(
            service=service,
            deployments=[
                {"model": "iris", "version": 1, "role": "champion", "weight": 100},
                {"model": "iris", "version": 2, "role": "fallback", "rank": 1, "last_resort": True},
            ],
            actor="test",
        )
    deployments_replace(
        service=service,
        deployments=[
            {"model": "iris", "version": 1, "role": "champion", "weight": 100},
            {"model": "iris", "version": 2, "role": "canary", "last_resort": True},
        ],
        actor="test",
    )
    [value] = config_reader(config_key(service.tenant.slug, service.slug))
    canary = decode(ServiceConfig, value).deployments[1]
    assert (canary.role, canary.last_resort) == ("canary", True)
