"""RDV_ENV and the one list of development defaults production refuses."""

from __future__ import annotations

import pytest

from contracts.environment import (
    DEV_SECRET_KEY,
    DevDefaultError,
    dev_defaults_found,
    environment_of,
    refuse_dev_defaults,
)
from contracts.pool_tokens import DEV_RUNNER_SECRET, pool_token


def test_the_environment_is_rdv_env_else_implied_by_the_production_settings_module() -> None:
    assert environment_of({}) == "development"
    assert environment_of({"RDV_ENV": "Production"}) == "production"
    assert environment_of({"DJANGO_SETTINGS_MODULE": "controlplane.settings.production"}) == "production"
    assert environment_of({"DJANGO_SETTINGS_MODULE": "controlplane.settings.local"}) == "development"
    assert environment_of({"RDV_ENV": "development", "DJANGO_SETTINGS_MODULE": "controlplane.settings.production"}) == (
        "development"
    )
    with pytest.raises(ValueError, match="RDV_ENV must be one of"):
        environment_of({"RDV_ENV": "staging"})


def test_development_values_are_found_and_production_values_pass() -> None:
    found = dev_defaults_found(
        {
            "DJANGO_SECRET_KEY": DEV_SECRET_KEY,
            "DJANGO_ALLOWED_HOSTS": "example.com, *",
            "RDV_RUNNER_TOKEN": pool_token(secret=DEV_RUNNER_SECRET, pool="gpu"),
            "UNRELATED": "dev",
        }
    )

    assert [line.split(" ")[0] for line in found] == ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "RDV_RUNNER_TOKEN"]
    assert dev_defaults_found(
        {
            "DJANGO_SECRET_KEY": "k" * 60,
            "DJANGO_DEBUG": "0",
            "DJANGO_ALLOWED_HOSTS": "example.com",
            "RDV_RUNNER_SECRET": "prod",
            "RDV_RUNNER_TOKEN": pool_token(secret="prod", pool="gpu"),
            "RDV_VALIDATION_SANDBOX": "bwrap",
        }
    ) == []


def test_refusing_names_the_process_and_each_problem() -> None:
    with pytest.raises(DevDefaultError) as caught:
        refuse_dev_defaults({"DJANGO_DEBUG": "true", "RDV_RUNNER_SECRET": DEV_RUNNER_SECRET}, process="the thing")

    lines = str(caught.value).splitlines()
    assert lines[0] == "the thing refuses to start in production with development defaults:"
    assert [line.split(" ")[3] for line in lines[1:]] == ["DJANGO_DEBUG", "RDV_RUNNER_SECRET"]
