"""Storing decisions is idempotent and bounded in time: what the lookup API and replays rely on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from controlplane.decisions.models import DecisionRecord
from controlplane.decisions.services import decisions_expire, decisions_store
from tests.controlplane.decisions.builders import decision_for
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def test_store_keeps_every_field_and_candidate() -> None:
    service = ServiceFactory()
    decision = decision_for(service, "req-1", decided_at=1795000001.25)

    assert decisions_store(decisions=[decision]) == 1

    record = DecisionRecord.objects.get(service=service, request_id="req-1")
    assert (record.status, record.model, record.version, record.reason) == ("ok", "iris", 1, "champion")
    assert (record.latency_ms, record.config_revision, record.output) == (6.0, 3, {"label": 0})
    assert record.decided_at.timestamp() == 1795000001.25
    assert record.candidates[1] == {
        "model": "iris", "version": 2, "role": "challenger", "status": "missing",
        "output": None, "error": None, "latency_ms": None, "late": False, "demoted": None,
    }
    assert record.candidates[2]["late"] is True and record.candidates[2]["error"] == "boom"


def test_a_replayed_decision_keeps_the_first_copy() -> None:
    service = ServiceFactory()
    first = decision_for(service, "req-1", reason="champion")

    decisions_store(decisions=[first, decision_for(service, "req-1", reason="replayed in batch")])
    decisions_store(decisions=[decision_for(service, "req-1", reason="replayed later")])

    assert list(DecisionRecord.objects.filter(service=service).values_list("reason", flat=True)) == ["champion"]


def test_same_request_id_in_two_services_are_two_records() -> None:
    one, other = ServiceFactory(), ServiceFactory()

    decisions_store(decisions=[decision_for(one, "req-1"), decision_for(other, "req-1")])

    assert DecisionRecord.objects.filter(request_id="req-1").count() == 2


def test_decisions_of_unknown_services_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    service = ServiceFactory()
    stray = decision_for(service, "req-2", tenant="t-nobody", service="s-nothing")

    assert decisions_store(decisions=[decision_for(service, "req-1"), stray]) == 1

    assert list(DecisionRecord.objects.values_list("request_id", flat=True).filter(service=service)) == ["req-1"]
    assert "1 decision(s) of unknown services skipped" in caplog.text


def test_a_service_created_after_an_unknown_lookup_is_found() -> None:
    """Unknown services are not cached: a decision racing its service's creation is kept next time."""
    service = ServiceFactory.build()
    service.tenant.save()
    decisions_store(decisions=[decision_for(service, "req-1")])
    service.save()

    assert decisions_store(decisions=[decision_for(service, "req-1")]) == 1
    assert DecisionRecord.objects.filter(service=service).count() == 1


def test_expire_deletes_only_records_older_than_the_cutoff() -> None:
    service = ServiceFactory()
    decisions_store(decisions=[decision_for(service, "old"), decision_for(service, "new")])
    DecisionRecord.objects.filter(request_id="old").update(created_at=timezone.now() - timedelta(days=8))

    assert decisions_expire(older_than=timezone.now() - timedelta(days=7)) == 1

    assert list(DecisionRecord.objects.filter(service=service).values_list("request_id", flat=True)) == ["new"]


def test_the_plain_insert_writes_every_column_of_the_model() -> None:
    """decisions_store writes with plain SQL for speed; a column added to the model must be added there."""
    from controlplane.decisions import services

    columns = {field.column for field in DecisionRecord._meta.concrete_fields if not field.primary_key}
    assert set(services._COLUMNS) == columns  # noqa: SLF001


def test_a_decision_without_output_stores_sql_null() -> None:
    service = ServiceFactory()
    decisions_store(decisions=[decision_for(service, "req-none", output=None)])

    assert DecisionRecord.objects.filter(service=service, request_id="req-none", output__isnull=True).exists()
