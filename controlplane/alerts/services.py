"""Setting a service's alert rules, evaluating them, and notifying the webhook."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from controlplane.alerts.evaluation import Firing, Transitions, evaluate
from controlplane.alerts.models import Alert, AlertRules
from controlplane.alerts.signals import service_signals, watched_kinds
from controlplane.alerts.webhooks import WebhookRefused, webhook_send, webhook_target
from controlplane.audit.services import audit_record, fields_changed
from controlplane.errors import InvalidInput
from controlplane.routing.models import Service

log = logging.getLogger(__name__)

RULE_FIELDS = (
    "window_s",
    "min_requests",
    "p99_ms",
    "error_rate",
    "timeout_rate",
    "drift",
    "accuracy_drop",
    "webhook_url",
)


def _rules_fields(rules: AlertRules) -> dict[str, Any]:
    return {name: getattr(rules, name) for name in RULE_FIELDS}


def alert_rules_set(*, service: Service, data: dict[str, Any], actor: str) -> tuple[AlertRules, str | None]:
    """Replace the rules with ``data`` (fields left out take their defaults). Answers the rules and the
    webhook secret when a new one was made (a new webhook URL, or ``rotate_secret``): shown once."""
    url = data.get("webhook_url") or ""
    if url:
        try:
            webhook_target(url, allowed_hosts=settings.RDV_ALERT_WEBHOOK_ALLOWED_HOSTS)
        except WebhookRefused as exc:
            raise InvalidInput({"webhook_url": [str(exc)]}) from exc
    with transaction.atomic():
        rules, created = AlertRules.objects.select_for_update().get_or_create(service=service)
        before = {} if created else _rules_fields(rules)
        defaults = AlertRules(service=service)
        for name in RULE_FIELDS:
            setattr(rules, name, data.get(name, getattr(defaults, name)))
        rules.webhook_url = url
        secret: str | None = None
        if not url:
            rules.webhook_secret = ""
        elif url != before.get("webhook_url") or data.get("rotate_secret") or not rules.webhook_secret:
            secret = secrets.token_urlsafe(32)
            rules.webhook_secret = secret
        rules.save()
        diff = fields_changed(before, _rules_fields(rules))
        if secret is not None and not created:
            diff["webhook_secret"] = {"before": "…", "after": "(new)"}
        audit_record(
            tenant=service.tenant, actor=actor, action="alerts.rules_set", target=f"service:{service.slug}", diff=diff
        )
    return rules, secret


def _firing(service: Service) -> dict[tuple[str, str], Alert]:
    return {
        (a.kind, a.subject): a for a in Alert.objects.select_for_update().filter(service=service, state=Alert.FIRING)
    }


def _apply(
    service: Service, transitions: Transitions, alerts: dict[tuple[str, str], Alert], now: datetime
) -> list[Alert]:
    """Write the transitions; answers the alerts whose state changed (to notify)."""
    changed: list[Alert] = []
    for raised in transitions.raised:
        signal = raised.signal
        value = float(signal.value)  # type: ignore[arg-type]  # a raised signal has a value
        changed.append(
            Alert.objects.create(
                service=service,
                kind=signal.kind,
                subject=signal.subject,
                threshold=signal.threshold,
                value_at_raise=value,
                value_worst=value,
                value_latest=value,
                raised_at=now,
            )
        )
    for update in transitions.updated:
        alert = alerts[update.key]
        alert.value_latest, alert.value_worst, alert.threshold = update.value, update.worst, update.threshold
        alert.save(update_fields=["value_latest", "value_worst", "threshold"])
    for clear in transitions.cleared:
        alert = alerts[clear.key]
        alert.state, alert.value_latest, alert.cleared_at = Alert.RESOLVED, clear.value, now
        alert.save(update_fields=["state", "value_latest", "cleared_at"])
        changed.append(alert)
    return changed


def alerts_evaluate(*, rules: AlertRules, now: datetime | None = None) -> Transitions:
    """Measure what the rules watch, then raise, update and clear; each change is sent to the webhook
    (a Celery task, after the transaction commits)."""
    now = now or timezone.now()
    signals = service_signals(rules, now=now)
    service = rules.service
    with transaction.atomic():
        alerts = _firing(service)
        firing = {key: Firing(key, alert.value_worst) for key, alert in alerts.items()}
        transitions = evaluate(signals, firing, watched=watched_kinds(rules))
        changed = _apply(service, transitions, alerts, now)
        if rules.webhook_url and changed:
            from controlplane.alerts.tasks import alert_notify  # noqa: PLC0415  (tasks import services)

            for alert in changed:
                transaction.on_commit(lambda a=alert: alert_notify.delay(a.id, a.state))
    for raised in transitions.raised:
        log.warning(
            "alert raised: %s %s %s = %s > %s",
            service,
            raised.signal.kind,
            raised.signal.subject,
            raised.signal.value,
            raised.signal.threshold,
        )
    for cleared in transitions.cleared:
        log.info("alert cleared: %s %s %s = %s", service, cleared.key[0], cleared.key[1], cleared.value)
    return transitions


def alerts_evaluate_all(*, now: datetime | None = None) -> int:
    """Every service with rules; one service's failure does not stop the others. Answers how many were evaluated."""
    done = 0
    for rules in AlertRules.objects.select_related("service__tenant"):
        try:
            alerts_evaluate(rules=rules, now=now)
            done += 1
        except Exception:
            log.exception("alerts of %s: evaluation failed", rules.service)
    return done


def alert_payload(alert: Alert) -> dict[str, Any]:
    service = alert.service
    return {
        "alert": alert.id,
        "tenant": service.tenant.slug,
        "service": service.slug,
        "kind": alert.kind,
        "subject": alert.subject,
        "state": alert.state,
        "threshold": alert.threshold,
        "value": alert.value_latest,
        "value_worst": alert.value_worst,
        "raised_at": alert.raised_at.isoformat(),
        "cleared_at": alert.cleared_at.isoformat() if alert.cleared_at else None,
    }


class WebhookFailed(RuntimeError):
    """The receiver did not take it (no answer, or not 2xx): the task retries."""


def alert_notify(*, alert_id: int, state: str) -> bool:
    """Send one state of one alert; answers False when there is nothing to send (rules or URL gone,
    the alert moved on and a newer notification will say so). Raises ``WebhookFailed`` to be retried."""
    alert = Alert.objects.select_related("service__tenant").filter(id=alert_id).first()
    rules = AlertRules.objects.filter(service_id=alert.service_id).first() if alert else None
    if alert is None or rules is None or not rules.webhook_url or alert.state != state:
        return False
    payload = alert_payload(alert)
    try:
        status = webhook_send(
            rules.webhook_url,
            payload,
            secret=rules.webhook_secret,
            timeout_s=settings.RDV_ALERT_WEBHOOK_TIMEOUT_S,
            allowed_hosts=settings.RDV_ALERT_WEBHOOK_ALLOWED_HOSTS,
        )
    except WebhookRefused as exc:
        log.warning("alert %s: webhook refused: %s", alert_id, exc)
        return False
    except OSError as exc:
        raise WebhookFailed(f"alert {alert_id}: webhook unreachable: {exc}") from exc
    if not 200 <= status < 300:
        raise WebhookFailed(f"alert {alert_id}: webhook answered {status}")
    Alert.objects.filter(id=alert_id, state=state).update(notified=state)
    return True


def alerts_sweep(*, now: datetime | None = None) -> int:
    """Delete resolved alerts older than RDV_ALERT_RETENTION_DAYS."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.RDV_ALERT_RETENTION_DAYS)
    deleted, _ = Alert.objects.filter(state=Alert.RESOLVED, cleared_at__lt=cutoff).delete()
    return deleted
