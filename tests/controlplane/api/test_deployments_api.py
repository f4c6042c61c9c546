"""The routing endpoints as a CI pipeline sees them: status codes and the JSON error shape."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from contracts import ServiceConfig, config_key, decode
from controlplane.registry.models import ModelVersion
from controlplane.routing.models import Service
from tests.factories import ModelFactory, ModelVersionFactory, ServiceFactory, TenantFactory

ROUTING = [
    {
        "model": "iris",
        "version": 1,
        "role": "champion",
        "weight": 100,
        "rank": 0,
        "pool": "default",
        "last_resort": False,
    },
    {
        "model": "iris",
        "version": 2,
        "role": "challenger",
        "weight": 100,
        "rank": 0,
        "pool": "default",
        "last_resort": False,
    },
]


def _service_with_two_versions(v2_status: str = ModelVersion.Status.READY) -> Service:
    service = ServiceFactory()
    model = ModelFactory(tenant=service.tenant, slug="iris")
    ModelVersionFactory(model=model)
    ModelVersionFactory(model=model, status=v2_status)
    return service


def _url(service: Service, what: str = "deployments", tenant: str | None = None) -> str:
    return f"/api/v1/tenants/{tenant or service.tenant.slug}/services/{service.slug}/{what}"


@pytest.mark.django_db(transaction=True)
def test_put_then_get_round_trips_the_routing_and_publishes_it(client_for, config_reader) -> None:  # noqa: ANN001
    service = _service_with_two_versions()
    client = client_for(service.tenant)

    put = client.put(_url(service), {"deployments": ROUTING}, format="json")
    got = client.get(_url(service))
    config = client.get(_url(service, "config"))

    assert put.status_code == 200 and put.json() == {"revision": 1}
    assert got.status_code == 200 and got.json() == {"revision": 1, "deployments": ROUTING}
    assert config.status_code == 200 and config.json()["revision"] == 1
    assert config.json()["snapshot"]["deployments"][0]["model"] == "iris"
    [value] = config_reader(config_key(service.tenant.slug, service.slug))
    assert decode(ServiceConfig, value).revision == 1


@pytest.mark.django_db
def test_defaults_fill_weight_rank_and_pool(client_for, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    service = _service_with_two_versions()

    with django_capture_on_commit_callbacks(execute=False):
        response = client_for(service.tenant).put(
            _url(service),
            {"deployments": [{"model": "iris", "version": 1, "role": "champion"}]},
            format="json",
        )

    assert response.status_code == 200
    assert client_for(service.tenant).get(_url(service)).json()["deployments"] == [
        {
            "model": "iris",
            "version": 1,
            "role": "champion",
            "weight": 100,
            "rank": 0,
            "pool": "default",
            "last_resort": False,
        }
    ]


@pytest.mark.django_db
def test_not_ready_version_is_409_and_routing_stays(client_for) -> None:  # noqa: ANN001
    service = _service_with_two_versions(v2_status=ModelVersion.Status.FAILED)
    client = client_for(service.tenant)

    response = client.put(_url(service), {"deployments": ROUTING}, format="json")

    assert response.status_code == 409
    assert response.json()["error"] == "conflict" and "iris v2 is failed" in response.json()["detail"]
    assert client.get(_url(service)).json() == {"revision": None, "deployments": []}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"deployments": [{"model": "nope", "version": 1, "role": "champion"}]}, "model"),
        ({"deployments": [{"model": "iris", "version": 7, "role": "champion"}]}, "version"),
        ({"deployments": [{"model": "iris", "version": 1, "role": "boss"}]}, "role"),
        ({"routing": []}, "deployments"),
    ],
)
def test_unknown_or_malformed_rows_are_400_with_details(client_for, body: dict, where: str) -> None:  # noqa: ANN001
    service = _service_with_two_versions()

    response = client_for(service.tenant).put(_url(service), body, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert where in str(response.json()["detail"])


@pytest.mark.django_db
def test_missing_token_is_401_with_a_challenge() -> None:
    service = ServiceFactory()

    response = APIClient().get(_url(service))

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_wrong_token_is_401() -> None:
    service = ServiceFactory()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer rdv_00000000_not-a-token")

    response = client.get(_url(service))

    assert response.status_code == 401 and response.json()["error"] == "not_authenticated"


@pytest.mark.django_db
def test_another_tenants_token_is_403(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()

    response = client_for(TenantFactory()).get(_url(service))

    assert response.status_code == 403 and response.json()["error"] == "forbidden"


@pytest.mark.django_db
def test_a_read_token_cannot_deploy(client_for) -> None:  # noqa: ANN001
    service = _service_with_two_versions()
    client = client_for(service.tenant, scopes=("read",))

    assert client.get(_url(service)).status_code == 200
    response = client.put(_url(service), {"deployments": ROUTING}, format="json")
    assert response.status_code == 403 and "deploy" in response.json()["detail"]


@pytest.mark.django_db
def test_unknown_service_is_404(client_for) -> None:  # noqa: ANN001
    tenant = TenantFactory()

    response = client_for(tenant).get(f"/api/v1/tenants/{tenant.slug}/services/ghost/deployments")

    assert response.status_code == 404 and response.json()["error"] == "not_found"


@pytest.mark.django_db
def test_config_of_a_service_without_revisions_is_404(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()

    response = client_for(service.tenant).get(_url(service, "config"))

    assert response.status_code == 404 and response.json()["error"] == "not_found"
