"""The rendezvous worker refuses development defaults when it runs in production."""

from __future__ import annotations

import pytest

from rendezvous_worker.settings import WorkerSettings


def test_production_with_a_development_default_does_not_start() -> None:
    with pytest.raises(SystemExit, match="refuses to start in production.*\\n.*DJANGO_ALLOWED_HOSTS"):
        WorkerSettings.from_env({"RDV_ENV": "production", "DJANGO_ALLOWED_HOSTS": "*"})


def test_development_and_clean_production_start() -> None:
    assert WorkerSettings.from_env({"DJANGO_ALLOWED_HOSTS": "*"}).group_id == "rdv-rendezvous"
    assert WorkerSettings.from_env({"RDV_ENV": "production", "DJANGO_ALLOWED_HOSTS": "example.com"}).group_id == (
        "rdv-rendezvous"
    )


def test_defaults_come_from_the_catalogue_and_bad_values_name_the_variable() -> None:
    settings = WorkerSettings.from_env({})
    assert (settings.commit_interval_s, settings.orphan_ttl_s, settings.stale_after_s) == (0.2, 30.0, 60.0)
    assert (settings.session_timeout_ms, settings.status_interval_s) == (None, 3.0)
    assert WorkerSettings.from_env({"RDV_CONSUMER_SESSION_TIMEOUT_MS": "6000"}).session_timeout_ms == 6000
    with pytest.raises(SystemExit, match="RDV_COMMIT_INTERVAL_S must be a number, not 'soon'"):
        WorkerSettings.from_env({"RDV_COMMIT_INTERVAL_S": "soon"})
    with pytest.raises(SystemExit, match="RDV_STATUS_INTERVAL_S must be more than 0"):
        WorkerSettings.from_env({"RDV_STATUS_INTERVAL_S": "0"})
