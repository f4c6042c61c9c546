"""GET …/alerts and GET, PUT …/alert-rules: scopes, another tenant's service, hostile webhook URLs."""

from __future__ import annotations

import pytest
from django.utils import timezone

from controlplane.alerts.models import Alert
from controlplane.audit.models import AuditEvent
from controlplane.routing.models import Service
from tests.factories import ServiceFactory, TenantFactory

pytestmark = pytest.mark.django_db


def _url(service: Service, tail: str) -> str:
    return f"/api/v1/tenants/{service.tenant.slug}/services/{service.slug}/{tail}"


def test_rules_default_to_nothing_watched_and_a_put_replaces_them(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    client = client_for(service.tenant)

    before = client.get(_url(service, "alert-rules"))
    put = client.put(_url(service, "alert-rules"), {"p99_ms": 150, "drift": True}, format="json")
    after = client.get(_url(service, "alert-rules"))

    assert before.status_code == 200 and before.json()["p99_ms"] is None and before.json()["drift"] is False
    assert put.status_code == 200 and put.json()["webhook_secret"] is None
    assert (after.json()["p99_ms"], after.json()["drift"], after.json()["window_s"]) == (150.0, True, 300)
    assert "webhook_secret" not in after.json() or after.json()["webhook_secret"] in (None, "")
    assert AuditEvent.objects.filter(action="alerts.rules_set", tenant=service.tenant).count() == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/x",
        "http://localhost/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x",
        "http://10.0.0.5/hook",
        "ftp://example.com/x",
    ],
)
def test_an_internal_or_odd_webhook_url_is_400_and_nothing_changes(client_for, url: str) -> None:  # noqa: ANN001
    service = ServiceFactory()

    response = client_for(service.tenant).put(_url(service, "alert-rules"), {"webhook_url": url}, format="json")

    assert response.status_code == 400, response.content
    assert "webhook_url" in response.json()["detail"]
    assert not service.__class__.objects.get(id=service.id).__dict__.get("alert_rules")
    assert not AuditEvent.objects.filter(action="alerts.rules_set").exists()


@pytest.mark.parametrize(
    "body",
    [{"error_rate": 1.5}, {"window_s": 1}, {"p99_ms": -1}, {"nonsense": 1}, {"drift": "maybe"}],
)
def test_a_bad_rule_is_400(client_for, body: dict) -> None:  # noqa: ANN001
    service = ServiceFactory()

    response = client_for(service.tenant).put(_url(service, "alert-rules"), body, format="json")

    assert response.status_code == 400, response.content


def test_scopes_read_for_reading_deploy_for_writing(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    reader = client_for(service.tenant, scopes=("read",))
    predictor = client_for(service.tenant, scopes=("predict",))

    assert reader.get(_url(service, "alerts")).status_code == 200
    assert reader.put(_url(service, "alert-rules"), {"p99_ms": 1}, format="json").status_code == 403
    assert predictor.get(_url(service, "alerts")).status_code == 403


def test_another_tenants_service_is_not_reachable(client_for) -> None:  # noqa: ANN001
    victim = ServiceFactory()
    Alert.objects.create(
        service=victim,
        kind="p99",
        threshold=1,
        value_at_raise=2,
        value_worst=2,
        value_latest=2,
        raised_at=timezone.now(),
    )
    attacker = client_for(TenantFactory())
    # Its own tenant in the URL, the victim's service slug: 404, not the victim's alerts.
    own_tenant = attacker.token.tenant.slug
    crossed = f"/api/v1/tenants/{own_tenant}/services/{victim.slug}"

    assert attacker.get(_url(victim, "alerts")).status_code in (403, 404)
    assert attacker.put(_url(victim, "alert-rules"), {"p99_ms": 1}, format="json").status_code in (403, 404)
    assert attacker.get(f"{crossed}/alerts").status_code == 404
    assert attacker.get(f"{crossed}/alert-rules").status_code == 404


def test_alerts_are_listed_newest_first_and_filtered_by_state(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    now = timezone.now()
    common = {"service": service, "threshold": 1, "value_at_raise": 2, "value_worst": 2, "value_latest": 2}
    Alert.objects.create(**common, kind="p99", state="resolved", raised_at=now, cleared_at=now)
    Alert.objects.create(**common, kind="drift", subject="age", raised_at=now)
    client = client_for(service.tenant, scopes=("read",))

    everything = client.get(_url(service, "alerts")).json()["results"]
    firing = client.get(_url(service, "alerts") + "?state=firing").json()["results"]

    assert [a["kind"] for a in everything] == ["drift", "p99"]
    assert [(a["kind"], a["subject"], a["state"]) for a in firing] == [("drift", "age", "firing")]
    assert client.get(_url(service, "alerts") + "?state=nope").status_code == 400
