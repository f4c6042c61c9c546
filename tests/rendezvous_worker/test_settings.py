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
