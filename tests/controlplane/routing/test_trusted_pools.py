"""Code formats (joblib, pickle, python) only run in pools the operator marks trusted (RDV_TRUSTED_POOLS),
and only for tenants the operator trusts; anything else is a 409 that leaves the routing unchanged."""

from __future__ import annotations

import pytest
from django.test import override_settings

from controlplane.errors import ConflictError
from controlplane.registry.models import ModelVersion
from controlplane.routing.models import Deployment
from controlplane.routing.services import deployment_promote, deployments_replace
from tests.factories import ModelFactory, ModelVersionFactory, ServiceFactory, TenantFactory

pytestmark = pytest.mark.django_db


def _service_with_joblib(*, trusted_tenant: bool = True):  # noqa: ANN202
    service = ServiceFactory(tenant=TenantFactory(trusted_code=trusted_tenant))
    model = ModelFactory(tenant=service.tenant, slug="churn")
    ModelVersionFactory(model=model)  # v1: skops
    ModelVersionFactory(model=model, format=ModelVersion.Format.JOBLIB)  # v2
    return service


@override_settings(RDV_TRUSTED_POOLS=["trusted"])
def test_a_code_format_outside_a_trusted_pool_is_409(client_for) -> None:  # noqa: ANN001
    service = _service_with_joblib()
    url = f"/api/v1/tenants/{service.tenant.slug}/services/{service.slug}/deployments"

    response = client_for(service.tenant).put(
        url, {"deployments": [{"model": "churn", "version": 2, "role": "champion"}]}, format="json"
    )

    assert response.status_code == 409 and response.json()["error"] == "conflict"
    assert "churn v2 is joblib" in response.json()["detail"]
    assert "not 'default' (trusted pools: 'trusted')" in response.json()["detail"]
    assert not Deployment.objects.filter(service=service).exists()


@override_settings(RDV_TRUSTED_POOLS=["trusted"])
def test_a_code_format_in_a_trusted_pool_deploys(django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    service = _service_with_joblib()

    with django_capture_on_commit_callbacks(execute=False):
        revision = deployments_replace(
            service=service,
            deployments=[
                {"model": "churn", "version": 1, "role": "champion"},
                {"model": "churn", "version": 2, "role": "challenger", "pool": "trusted"},
            ],
            actor="test",
        )

    assert revision.number == 1
    assert {(d.version.number, d.pool) for d in Deployment.objects.filter(service=service)} == {
        (1, "default"),
        (2, "trusted"),
    }


@override_settings(RDV_TRUSTED_POOLS=["trusted"])
def test_a_tenant_no_longer_trusted_cannot_deploy_its_code_formats_anywhere() -> None:
    service = _service_with_joblib(trusted_tenant=False)

    with pytest.raises(ConflictError, match="the tenant is not trusted to run code"):
        deployments_replace(
            service=service,
            deployments=[{"model": "churn", "version": 2, "role": "champion", "pool": "trusted"}],
            actor="test",
        )


def test_promoting_a_code_format_into_the_default_pool_is_409(django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    service = _service_with_joblib()
    with django_capture_on_commit_callbacks(execute=False):
        deployments_replace(service=service, deployments=[{"model": "churn", "version": 1, "role": "champion"}],
                            actor="test")

    with pytest.raises(ConflictError, match="none are configured"):
        deployment_promote(service=service, model="churn", version=2, actor="test")
