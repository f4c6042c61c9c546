"""A service whose routing just moved to a new champion: what the fallback tests judge."""

from __future__ import annotations

import pytest

from contracts.kafka import Admin
from controlplane.routing.services import deployments_replace
from tests.factories import ModelFactory, ModelVersionFactory, ServiceFactory


@pytest.fixture
def routed(kafka: Admin, settings):  # noqa: ANN001, ANN201
    """A service running v1 as champion (revision 1), then v2 deployed as champion (revision 2)."""
    settings.RDV_READY_TIMEOUT_S = 30
    service = ServiceFactory()
    model = ModelFactory(tenant=service.tenant, slug="iris")
    v1, v2 = ModelVersionFactory(model=model), ModelVersionFactory(model=model)
    deployments_replace(service=service, deployments=[{"model": "iris", "version": 1, "role": "champion"}], actor="ci")
    bad = deployments_replace(
        service=service, deployments=[{"model": "iris", "version": 2, "role": "champion"}], actor="ci"
    )
    bad.refresh_from_db()
    assert bad.published_at is not None
    return service, v1, v2, bad
