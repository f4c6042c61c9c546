"""factory_boy factories for control-plane rows; they write rows only (no Kafka, no validation).

Slugs carry a random suffix so tests that publish to the shared broker never collide on topic
names or ``rdv.config`` keys, across tests or across runs.
"""

from __future__ import annotations

import hashlib
import uuid

import factory

from controlplane.registry.models import Model, ModelVersion
from controlplane.routing.models import Deployment, Service
from controlplane.tenancy.models import Tenant

ARTIFACT_BYTES = b"not a real model: factory rows are never loaded"


def unique_slug(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    slug = factory.LazyFunction(lambda: unique_slug("t"))
    name = factory.LazyAttribute(lambda o: f"Tenant {o.slug}")


class ModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Model

    tenant = factory.SubFactory(TenantFactory)
    slug = factory.Sequence(lambda n: f"model-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    model = factory.SubFactory(ModelFactory)
    number = factory.LazyAttribute(lambda o: o.model.versions.count() + 1)
    artifact = factory.django.FileField(filename="model.skops", data=ARTIFACT_BYTES)
    format = ModelVersion.Format.SKOPS
    sha256 = factory.LazyFunction(lambda: hashlib.sha256(ARTIFACT_BYTES).hexdigest())
    size = len(ARTIFACT_BYTES)
    metadata = factory.LazyFunction(lambda: {"features": ["x", "y"], "example": {"x": 1.0, "y": 2.0}})
    status = ModelVersion.Status.READY
    report = "factory row"


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    tenant = factory.SubFactory(TenantFactory)
    slug = factory.LazyFunction(lambda: unique_slug("s"))
    name = factory.LazyAttribute(lambda o: o.slug.title())
    input_schema = factory.LazyFunction(lambda: {"type": "object"})
    deadline_ms = 200
    partitions = 2


class DeploymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deployment

    service = factory.SubFactory(ServiceFactory)
    version = factory.SubFactory(
        ModelVersionFactory, model__tenant=factory.SelfAttribute("...service.tenant")
    )
    role = Deployment.Role.CHAMPION
    weight = 100
