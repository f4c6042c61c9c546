"""The automatic fallback on the real database and broker, fed with runner reports as the consumer stores them."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from controlplane.audit.models import AuditEvent
from controlplane.fleet.models import RevisionCheck, VersionPlacement, WorkerReport
from controlplane.fleet.services import FALLBACK_ACTOR, auto_fallback_run, worker_statuses_store
from controlplane.registry.models import ModelVersion
from controlplane.routing.models import ConfigRevision, Service
from controlplane.routing.selectors import deployments_list, revision_latest
from tests.controlplane.fleet.builders import runner_status

pytestmark = pytest.mark.django_db(transaction=True)


def champion_of(service: Service) -> int:
    [row] = [d for d in deployments_list(service=service) if d["role"] == "champion"]
    return row["version"]


def test_a_version_a_runner_failed_to_load_is_rolled_back_once_with_the_reason_recorded(routed) -> None:  # noqa: ANN001
    service, v1, v2, bad = routed
    worker_statuses_store(statuses=[
        runner_status("runner-a", service, bad.number, {v2: ("failed", "model failed to load: GET … answered 404")}),
        runner_status("runner-b", service, bad.number, {v2: "loading"}),
    ])

    [outcome] = auto_fallback_run()

    assert (outcome.revision, outcome.state, outcome.rolled_back_by) == (bad.number, "rolled_back", bad.number + 1)
    assert champion_of(service) == 1
    new = revision_latest(service=service)
    assert new.number == bad.number + 1 and new.actor == FALLBACK_ACTOR
    assert new.reason.startswith(f"automatic fallback: revision {bad.number} did not go live: ")
    assert "iris v2 (champion, pool default) failed on runner runner-a: model failed to load" in new.reason
    event = AuditEvent.objects.filter(tenant=service.tenant, action="service.rollback").latest("pk")
    assert event.actor == FALLBACK_ACTOR and event.diff["reason"] == new.reason
    assert event.diff["restored_from"] == bad.number - 1
    check = RevisionCheck.objects.get(revision=bad)
    assert check.state == "rolled_back" and "runner-a" in check.reason

    # No flapping: the bad revision is judged once, and the fallback's own revision is never judged.
    worker_statuses_store(statuses=[runner_status("runner-a", service, new.number, {v1: "failed"})])
    assert auto_fallback_run() == []
    assert revision_latest(service=service).number == new.number


def test_a_champion_not_ready_within_the_time_limit_is_rolled_back(routed) -> None:  # noqa: ANN001
    service, v1, v2, bad = routed
    worker_statuses_store(statuses=[runner_status("runner-a", service, bad.number, {v2: "loading"})])

    assert auto_fallback_run() == []  # still within the limit
    assert champion_of(service) == 2

    later = bad.published_at + timedelta(seconds=31)
    worker_statuses_store(statuses=[runner_status("runner-a", service, bad.number, {v2: "loading"},
                                                  at=later.timestamp())])
    [outcome] = auto_fallback_run(now=later)
    assert outcome.state == "rolled_back"
    assert "not ready on any live runner within 30 s (runner-a: loading)" in outcome.reason
    assert champion_of(service) == 1


def test_a_revision_that_went_live_is_never_rolled_back_later(routed) -> None:  # noqa: ANN001
    service, v1, v2, bad = routed
    worker_statuses_store(statuses=[runner_status("runner-a", service, bad.number, {v2: "ready"})])
    [outcome] = auto_fallback_run()
    assert outcome.state == "ready"

    worker_statuses_store(statuses=[runner_status("runner-a", service, bad.number, {v2: ("failed", "disk full")})])
    assert auto_fallback_run() == []
    assert champion_of(service) == 2


def test_silent_runners_do_not_count_so_nothing_is_judged_without_them(routed) -> None:  # noqa: ANN001
    service, v1, v2, bad = routed
    long_ago = time.time() - 600
    worker_statuses_store(statuses=[runner_status("runner-a", service, bad.number, {v2: "failed"}, at=long_ago)])

    assert auto_fallback_run(now=timezone.now() + timedelta(hours=1)) == []
    assert champion_of(service) == 2 and not RevisionCheck.objects.exists()


def test_when_the_earlier_routing_cannot_be_restored_the_routing_stays_and_the_reason_is_recorded(routed) -> None:  # noqa: ANN001
    service, v1, v2, bad = routed
    ModelVersion.objects.filter(pk=v1.pk).update(status=ModelVersion.Status.FAILED)
    worker_statuses_store(statuses=[runner_status("runner-a", service, bad.number, {v2: "failed"})])

    [outcome] = auto_fallback_run()

    assert outcome.state == "stuck" and "could not roll back" in outcome.reason
    assert champion_of(service) == 2 and revision_latest(service=service).number == bad.number
    event = AuditEvent.objects.get(tenant=service.tenant, action="service.fallback_failed")
    assert event.actor == FALLBACK_ACTOR and f"iris v{v1.number} is failed" in event.diff["reason"]
    assert auto_fallback_run() == []


def test_the_store_keeps_the_newest_report_and_rewrites_placements_only_when_they_change(routed) -> None:  # noqa: ANN001
    service, v1, v2, bad = routed
    now = time.time()
    worker_statuses_store(statuses=[
        runner_status("runner-a", service, bad.number, {v2: "ready"}, at=now),
        runner_status("runner-a", service, bad.number, {v2: "loading"}, at=now - 1),
    ])
    placement = VersionPlacement.objects.get(report__worker="runner-a")
    assert placement.state == "ready"

    worker_statuses_store(statuses=[runner_status("runner-a", service, bad.number, {v2: "ready"}, at=now + 3)])
    assert VersionPlacement.objects.get(report__worker="runner-a").pk == placement.pk  # a heartbeat
    assert WorkerReport.objects.get(worker="runner-a").at.timestamp() == pytest.approx(now + 3)

    worker_statuses_store(statuses=[runner_status("runner-a", service, bad.number, {v2: "loading"}, at=now - 5)])
    assert VersionPlacement.objects.get(report__worker="runner-a").state == "ready"  # older: ignored
    assert ConfigRevision.objects.filter(service=service).count() == bad.number
