"""Rules over stored answers: an error burst raises one alert, it is sent signed, and it clears when
the errors stop; a quiet window changes nothing; another service's answers never count."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from controlplane.alerts.models import Alert, AlertRules
from controlplane.alerts.services import alert_notify, alert_rules_set, alerts_evaluate, alerts_sweep
from controlplane.decisions.models import DecisionRecord
from controlplane.routing.models import Service
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _answers(service: Service, statuses: list[str], *, at: datetime, latency_ms: float = 10.0) -> None:
    DecisionRecord.objects.bulk_create(
        [
            DecisionRecord(
                service=service,
                request_id=f"r-{at.timestamp()}-{i}",
                status=status,
                reason="champion",
                latency_ms=latency_ms,
                config_revision=1,
                decided_at=at,
                created_at=at,
            )
            for i, status in enumerate(statuses)
        ]
    )
    # created_at is auto_now_add: put it where the test says
    DecisionRecord.objects.filter(service=service, request_id__startswith=f"r-{at.timestamp()}-").update(created_at=at)


class _Hook(BaseHTTPRequestHandler):
    bodies: list[tuple[dict, str]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).bodies.append((json.loads(body), self.headers["X-Rendezvous-Signature"], body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook(settings) -> Iterator[tuple[str, type[_Hook]]]:  # noqa: ANN001
    settings.RDV_ALERT_WEBHOOK_ALLOWED_HOSTS = ["localhost"]
    handler = type("Hook", (_Hook,), {"bodies": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}/alerts", handler
    server.shutdown()
    server.server_close()


def test_an_error_burst_raises_one_alert_sent_signed_then_cleared_and_sent_again(
    hook: tuple[str, type[_Hook]],
    django_capture_on_commit_callbacks,  # noqa: ANN001
) -> None:
    url, handler = hook
    service = ServiceFactory()
    rules, secret = alert_rules_set(
        service=service, data={"error_rate": 0.1, "window_s": 300, "min_requests": 10, "webhook_url": url}, actor="test"
    )
    assert secret
    _answers(service, ["ok"] * 15 + ["error"] * 5, at=NOW - timedelta(seconds=60))

    with django_capture_on_commit_callbacks(execute=False) as sent_on_commit:
        alerts_evaluate(rules=rules, now=NOW)
        alerts_evaluate(rules=rules, now=NOW + timedelta(seconds=30))  # still breaching: the same alert

    [alert] = Alert.objects.filter(service=service)
    assert (alert.kind, alert.state, alert.value_at_raise, alert.threshold) == ("error_rate", "firing", 0.25, 0.1)
    assert len(sent_on_commit) == 1  # raised once; the second evaluation only updated it

    assert alert_notify(alert_id=alert.id, state="firing") is True
    # Later: the errors are out of the window, only healthy answers in it.
    later = NOW + timedelta(seconds=600)
    _answers(service, ["ok"] * 30, at=later - timedelta(seconds=30))
    alerts_evaluate(rules=rules, now=later)
    alert.refresh_from_db()
    assert (alert.state, alert.value_latest, alert.cleared_at) == ("resolved", 0.0, later)
    assert alert_notify(alert_id=alert.id, state="resolved") is True

    states = [(body["state"], body["kind"], body["value"]) for body, _, _ in handler.bodies]
    assert states == [("firing", "error_rate", 0.25), ("resolved", "error_rate", 0.0)]
    for body, signature, raw in handler.bodies:
        assert signature == "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        assert (body["tenant"], body["service"]) == (service.tenant.slug, service.slug)
    alert.refresh_from_db()
    assert alert.notified == "resolved"


def test_p99_and_timeouts_are_judged_and_too_few_answers_are_not() -> None:
    service = ServiceFactory()
    rules, _ = alert_rules_set(
        service=service, data={"p99_ms": 100, "timeout_rate": 0.5, "min_requests": 20}, actor="test"
    )
    _answers(service, ["timeout"] * 19, at=NOW - timedelta(seconds=10), latency_ms=500)

    quiet = alerts_evaluate(rules=rules, now=NOW)
    assert not quiet.raised

    _answers(service, ["ok"], at=NOW - timedelta(seconds=5), latency_ms=5)
    busy = alerts_evaluate(rules=rules, now=NOW)
    assert sorted(r.signal.kind for r in busy.raised) == ["p99", "timeout_rate"]


def test_another_services_answers_never_count() -> None:
    service, other = ServiceFactory(), ServiceFactory()
    rules, _ = alert_rules_set(service=service, data={"error_rate": 0.1, "min_requests": 5}, actor="test")
    _answers(other, ["error"] * 50, at=NOW - timedelta(seconds=5))
    _answers(service, ["ok"] * 10, at=NOW - timedelta(seconds=5))

    assert not alerts_evaluate(rules=rules, now=NOW).raised
    assert not Alert.objects.exists()


def test_removing_a_threshold_clears_its_alert() -> None:
    service = ServiceFactory()
    rules, _ = alert_rules_set(service=service, data={"error_rate": 0.1, "min_requests": 1}, actor="test")
    _answers(service, ["error"] * 3, at=NOW - timedelta(seconds=5))
    alerts_evaluate(rules=rules, now=NOW)

    rules, _ = alert_rules_set(service=service, data={"p99_ms": 1000, "min_requests": 1}, actor="test")
    alerts_evaluate(rules=rules, now=NOW)

    assert list(Alert.objects.values_list("kind", "state")) == [("error_rate", "resolved")]


def test_a_stale_notification_is_not_sent(hook: tuple[str, type[_Hook]]) -> None:
    url, handler = hook
    service = ServiceFactory()
    rules, _ = alert_rules_set(
        service=service, data={"error_rate": 0.1, "min_requests": 1, "webhook_url": url}, actor="test"
    )
    _answers(service, ["error"], at=NOW - timedelta(seconds=5))
    alerts_evaluate(rules=rules, now=NOW)
    alert = Alert.objects.get(service=service)
    Alert.objects.filter(id=alert.id).update(state="resolved", cleared_at=NOW)

    assert alert_notify(alert_id=alert.id, state="firing") is False
    assert handler.bodies == []


def test_resolved_alerts_past_retention_are_swept(settings) -> None:  # noqa: ANN001
    settings.RDV_ALERT_RETENTION_DAYS = 30
    service = ServiceFactory()
    AlertRules.objects.create(service=service)
    common = {
        "service": service,
        "kind": "p99",
        "threshold": 1,
        "value_at_raise": 2,
        "value_worst": 2,
        "value_latest": 0,
    }
    old = Alert.objects.create(
        **common, state="resolved", raised_at=NOW - timedelta(days=40), cleared_at=NOW - timedelta(days=31)
    )
    recent = Alert.objects.create(**common, state="resolved", raised_at=NOW - timedelta(days=2), cleared_at=NOW)

    assert alerts_sweep(now=NOW) == 1
    assert list(Alert.objects.values_list("id", flat=True)) == [recent.id]
    assert not Alert.objects.filter(id=old.id).exists()


def test_a_champion_whose_accuracy_falls_raises_an_accuracy_alert() -> None:
    from contracts import Candidate
    from controlplane.decisions.services import decisions_store
    from controlplane.feedback.models import Feedback
    from tests.controlplane.decisions.builders import decision_for
    from tests.factories import DeploymentFactory

    deployment = DeploymentFactory()
    service = deployment.service
    model, number = deployment.version.model.slug, deployment.version.number
    rules, _ = alert_rules_set(
        service=service, data={"accuracy_drop": 0.3, "window_s": 600, "min_requests": 10}, actor="test"
    )
    now = timezone.now()

    def decided(request_id: str, age_s: float, predicted: str, truth: str) -> None:
        candidate = Candidate(model=model, version=number, role="champion", status="ok", output={"label": predicted})
        decisions_store(decisions=[decision_for(service, request_id, decided_at=now.timestamp() - age_s,
                                                candidates=[candidate])])
        Feedback.objects.create(service=service, request_id=request_id, label=truth)

    # The day before the window: right 10 times out of 10. In the window: right 4 times out of 10.
    for i in range(10):
        decided(f"before-{i}", 3600, "a", "a")
        decided(f"now-{i}", 60, "a", "a" if i < 4 else "b")

    out = alerts_evaluate(rules=rules, now=now)

    assert [(r.signal.kind, r.signal.subject, r.signal.value) for r in out.raised] == [
        ("accuracy_drop", f"{model}@{number}", 0.6)
    ]
