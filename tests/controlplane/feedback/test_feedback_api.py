"""POST …/feedback: one label or a list, a later label replaces the earlier one, for predict or deploy."""

from __future__ import annotations

import pytest
from django.test import override_settings

from controlplane.audit.models import AuditEvent
from controlplane.feedback.models import Feedback
from controlplane.routing.models import Service
from tests.factories import ServiceFactory, TenantFactory

pytestmark = pytest.mark.django_db


def _url(service: Service) -> str:
    return f"/api/v1/tenants/{service.tenant.slug}/services/{service.slug}/feedback"


def _labels(service: Service) -> dict[str, object]:
    return dict(Feedback.objects.filter(service=service).values_list("request_id", "label"))


def test_one_label_is_202_and_stored(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()

    response = client_for(service.tenant, scopes=("predict",)).post(
        _url(service), {"request_id": "req-1", "label": 2}, format="json"
    )

    assert response.status_code == 202 and response.json() == {"accepted": 1}
    assert _labels(service) == {"req-1": 2}
    assert not AuditEvent.objects.filter(action__startswith="feedback").exists()


def test_a_list_is_stored_and_a_second_label_replaces_the_first(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    client = client_for(service.tenant, scopes=("deploy",))

    first = client.post(
        _url(service),
        [
            {"request_id": "a", "label": "setosa"},
            {"request_id": "b", "label": 1.5},
            {"request_id": "a", "label": "virginica"},
        ],
        format="json",
    )
    second = client.post(_url(service), [{"request_id": "b", "label": 2.5}], format="json")

    assert first.status_code == 202 and first.json() == {"accepted": 2}
    assert second.json() == {"accepted": 1}
    assert _labels(service) == {"a": "virginica", "b": 2.5}


def test_sending_the_same_batch_again_changes_nothing(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    client = client_for(service.tenant, scopes=("predict",))
    batch = [{"request_id": "a", "label": True}, {"request_id": "b", "label": 3}]

    answers = [client.post(_url(service), batch, format="json") for _ in range(2)]

    assert [a.status_code for a in answers] == [202, 202]
    assert _labels(service) == {"a": True, "b": 3} and Feedback.objects.filter(service=service).count() == 2


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"request_id": "x"},
        {"label": 1},
        [{"request_id": "x", "label": 1}, 7],
        "text",
        {"request_id": "", "label": 1},
        {"request_id": "x", "label": None},
        {"request_id": "x", "label": {"value": 1.5}},
        {"request_id": "x", "label": [1, 2]},
        {"request_id": "x", "label": ""},
        {"request_id": "x", "label": "c" * 257},
    ],
)
def test_malformed_feedback_is_400_and_nothing_is_stored(client_for, body: object) -> None:  # noqa: ANN001
    service = ServiceFactory()

    response = client_for(service.tenant).post(_url(service), body, format="json")

    assert response.status_code == 400 and response.json()["error"] == "invalid"
    assert not Feedback.objects.exists()


def test_a_bad_item_in_a_batch_is_named_by_position_and_nothing_is_stored(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    batch = [
        {"request_id": "ok", "label": "cat"},
        {"request_id": "obj", "label": {"label": "cat"}},
        {"request_id": "ok2", "label": 1},
        {"label": 2},
    ]

    response = client_for(service.tenant).post(_url(service), batch, format="json")

    assert response.status_code == 400
    detail = response.json()["detail"]
    assert set(detail) == {"1", "3"}
    assert "not an object" in detail["1"]["label"][0] and "got dict" in detail["1"]["label"][0]
    assert list(detail["3"]) == ["request_id"]
    assert not Feedback.objects.exists()


@override_settings(RDV_FEEDBACK_MAX_ITEMS=2)
def test_too_many_labels_in_one_call_is_413(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()

    response = client_for(service.tenant).post(
        _url(service), [{"request_id": str(n), "label": n} for n in range(3)], format="json"
    )

    assert response.status_code == 413 and response.json()["error"] == "too_large"


def test_needs_predict_or_deploy_and_the_right_tenant(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    body = {"request_id": "r", "label": 1}

    reader = client_for(service.tenant, scopes=("read",)).post(_url(service), body, format="json")
    stranger = client_for(TenantFactory()).post(_url(service), body, format="json")
    unknown = client_for(service.tenant).post(
        f"/api/v1/tenants/{service.tenant.slug}/services/ghost/feedback", body, format="json"
    )

    assert reader.status_code == 403 and "'predict' or 'deploy'" in reader.json()["detail"]
    assert stranger.status_code == 403 and unknown.status_code == 404
