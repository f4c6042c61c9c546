"""GET …/readiness as a CI pipeline polls it after a routing change."""

from __future__ import annotations

import pytest

from controlplane.fleet.services import auto_fallback_run, worker_statuses_store
from tests.controlplane.fleet.builders import runner_status

pytestmark = pytest.mark.django_db(transaction=True)


def url(service, revision: int | None = None) -> str:  # noqa: ANN001
    query = "" if revision is None else f"?revision={revision}"
    return f"/api/v1/tenants/{service.tenant.slug}/services/{service.slug}/readiness{query}"


def test_readiness_follows_the_runners_reports_and_names_the_rollback(routed, client_for) -> None:  # noqa: ANN001
    service, v1, v2, bad = routed
    api = client_for(service.tenant, scopes=("read",))

    pending = api.get(url(service)).json()
    assert (pending["revision"], pending["live"], pending["state"]) == (bad.number, True, "pending")
    assert pending["detail"] == "no live runner in pool default" and pending["timeout_s"] == 30

    worker_statuses_store(statuses=[runner_status("runner-a", service, bad.number, {v2: "loading"})])
    loading = api.get(url(service)).json()
    assert loading["state"] == "pending" and loading["workers"]["runners_live"] == 1
    [champion] = loading["deployments"]
    assert champion == {
        "model": "iris", "version": 2, "role": "champion", "pool": "default", "runners_live": 1,
        "runners_applied": 1, "runners_ready": 0, "runners_failed": 0, "states": {"runner-a": "loading"},
        "errors": {},
    }

    worker_statuses_store(statuses=[runner_status("runner-a", service, bad.number, {v2: ("failed", "no such file")})])
    assert api.get(url(service)).json()["state"] == "failed"
    auto_fallback_run()

    rolled = api.get(url(service, bad.number)).json()
    assert (rolled["state"], rolled["live"], rolled["rolled_back_by"]) == ("rolled_back", False, bad.number + 1)
    assert "failed on runner runner-a: no such file" in rolled["detail"]
    live = api.get(url(service)).json()
    assert live["revision"] == bad.number + 1

    config = api.get(f"/api/v1/tenants/{service.tenant.slug}/services/{service.slug}/config").json()
    assert config["actor"] == "system:auto-fallback" and "no such file" in config["reason"]


def test_unknown_revisions_and_other_tenants_get_clear_errors(routed, client_for, tenant) -> None:  # noqa: ANN001
    service, *_ = routed
    api = client_for(service.tenant, scopes=("read",))
    assert api.get(url(service, 999)).status_code == 404
    assert api.get(url(service) + "?revision=zero").status_code == 400
    assert client_for(tenant, scopes=("read",)).get(url(service)).status_code == 403
