"""GET …/drift?window=: one series per feature, the read scope, the token's tenant only, windows checked."""

from __future__ import annotations

import pytest

from tests.controlplane.drift.builders import drift_store_recent
from tests.factories import ServiceFactory, TenantFactory

pytestmark = pytest.mark.django_db


def _url(service, tenant: str | None = None, window: str | None = "1h") -> str:  # noqa: ANN001
    query = "" if window is None else f"?window={window}"
    return f"/api/v1/tenants/{tenant or service.tenant.slug}/services/{service.slug}/drift{query}"


def _drifting_service():  # noqa: ANN202
    """Buckets of the last half hour: a reference, a quiet bucket, a shifted one."""
    service = ServiceFactory()
    drift_store_recent(service)
    return service


def test_answers_one_series_per_feature_with_its_threshold(client_for) -> None:  # noqa: ANN001
    service = _drifting_service()
    response = client_for(service.tenant, scopes=("read",)).get(_url(service))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["window"] == "1h" and body["reference"]["requests"] == 600
    features = {f["feature"]: f for f in body["features"]}
    assert set(features) == {"sepal_length", "sepal_width", "petal_length", "petal_width", "country"}
    petal = features["petal_length"]
    assert petal["threshold"] == 0.2 and petal["kind"] == "numeric"
    assert [p["flagged"] for p in petal["series"]] == [False, True]
    assert petal["flagged"] is True and petal["score"] == petal["series"][-1]["psi"] > 0.2
    assert all(p["requests"] == 400 for p in petal["series"])
    assert not any(p["flagged"] for p in features["sepal_width"]["series"])
    assert features["country"]["series"][0]["ks"] is None
    # A window that ends before the buckets: nothing in it.
    assert client_for(service.tenant).get(_url(service, window="1m")).json()["features"] == []


def test_another_tenants_token_gets_404_and_a_token_without_read_403(client_for) -> None:  # noqa: ANN001
    service = _drifting_service()
    intruder = client_for(TenantFactory(), scopes=("read", "deploy", "predict", "admin"))
    # Its path names the other tenant: refused before anything is looked up (the API's rule everywhere).
    assert intruder.get(_url(service)).status_code == 403
    own_tenant_path_other_service = _url(service, tenant=intruder.token.tenant.slug)
    assert intruder.get(own_tenant_path_other_service).status_code == 404
    assert client_for(service.tenant, scopes=("predict",)).get(_url(service)).status_code == 403


@pytest.mark.parametrize("window", ["1", "1w", "0h", "-1h", "1.5h", "91d", "h"])
def test_a_window_that_is_not_a_duration_is_a_400(client_for, window: str) -> None:  # noqa: ANN001
    service = ServiceFactory()
    response = client_for(service.tenant).get(_url(service, window=window))
    assert response.status_code == 400, (window, response.content)
    assert response.json()["error"] == "invalid"


def test_without_a_window_the_last_hour_and_without_data_no_features(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    body = client_for(service.tenant).get(_url(service, window=None)).json()
    assert body == {"window": "1h", "reference": None, "features": []}
