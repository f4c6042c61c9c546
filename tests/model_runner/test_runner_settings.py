"""Settings come from the environment, with defaults for development and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.pool_tokens import DEV_RUNNER_SECRET, pool_token
from model_runner.settings import RunnerSettings, SettingsError


def test_defaults() -> None:
    settings = RunnerSettings.from_env({})

    assert (settings.pool, settings.max_batch) == ("default", 256)
    assert settings.token == pool_token(secret=DEV_RUNNER_SECRET, pool="default"), "development: the dev pool token"
    assert settings.group_id == "rdv-runner-default"
    assert settings.artifact_cache == Path.home() / ".cache" / "rendezvous" / "artifacts"
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"


def test_values_from_the_environment() -> None:
    settings = RunnerSettings.from_env(
        {
            "RDV_RUNNER_POOL": "gpu-1",
            "RDV_RUNNER_ID": "r7",
            "RDV_MAX_BATCH": "32",
            "RDV_KAFKA_CLIENT": "kafka-python",
        }
    )

    assert (settings.pool, settings.runner_id, settings.max_batch) == ("gpu-1", "r7", 32)
    assert settings.kafka.client == "kafka-python"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RDV_MAX_BATCH": "lots"}, "RDV_MAX_BATCH must be a whole number"),
        ({"RDV_MAX_BATCH": "0"}, "at least 1"),
        ({"RDV_RUNNER_POOL": "GPU pool"}, "RDV_RUNNER_POOL must be a slug"),
        ({"RDV_KAFKA_CLIENT": "java"}, "RDV_KAFKA_CLIENT"),
        ({"RDV_REDIS_URL": "127.0.0.1:6379"}, "RDV_REDIS_URL must be a redis:// URL"),
        ({"RDV_STATE_REDIS_TIMEOUT_MS": "soon"}, "RDV_STATE_REDIS_TIMEOUT_MS must be a whole number"),
        ({"RDV_STATE_REDIS_TIMEOUT_MS": "0"}, "RDV_STATE_REDIS_TIMEOUT_MS must be at least 1"),
    ],
)
def test_bad_values_fail_with_a_clear_message(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        RunnerSettings.from_env(env)


def test_the_state_redis_is_rdv_redis_url_else_redis_url() -> None:
    assert RunnerSettings.from_env({}).redis_url == "redis://127.0.0.1:6379/0"
    assert RunnerSettings.from_env({}).state_timeout_ms == 50
    assert RunnerSettings.from_env({"REDIS_URL": "redis://cache:6379/2"}).redis_url == "redis://cache:6379/2"
    both = RunnerSettings.from_env(
        {
            "REDIS_URL": "redis://cache:6379/2",
            "RDV_REDIS_URL": "redis://state:6379/0",
            "RDV_STATE_REDIS_TIMEOUT_MS": "20",
        }
    )
    assert (both.redis_url, both.state_timeout_ms) == ("redis://state:6379/0", 20)


PRODUCTION_TOKEN = pool_token(secret="a-production-secret", pool="gpu")


def test_the_token_must_be_the_pools_own() -> None:
    assert RunnerSettings.from_env({"RDV_RUNNER_POOL": "gpu", "RDV_RUNNER_TOKEN": PRODUCTION_TOKEN}).token == (
        PRODUCTION_TOKEN
    )
    with pytest.raises(SettingsError, match="token of pool 'gpu', not of RDV_RUNNER_POOL 'default'"):
        RunnerSettings.from_env({"RDV_RUNNER_TOKEN": PRODUCTION_TOKEN})
    with pytest.raises(SettingsError, match="not a runner pool token .*rdv_runner_token --pool default"):
        RunnerSettings.from_env({"RDV_RUNNER_TOKEN": "dev-runner-token"})
    with pytest.raises(SettingsError, match="set but empty"):
        RunnerSettings.from_env({"RDV_RUNNER_TOKEN": ""})


@pytest.mark.parametrize(
    "switch",
    [
        {"RDV_ENV": "production", "RDV_PUBLIC_URL": "http://cp:8000"},
        {"DJANGO_SETTINGS_MODULE": "controlplane.settings.production", "RDV_PUBLIC_URL": "http://cp:8000"},
    ],
)
def test_production_needs_a_token_and_refuses_the_development_one(switch: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="RDV_RUNNER_TOKEN is required in production"):
        RunnerSettings.from_env({**switch, "RDV_RUNNER_POOL": "gpu"})
    dev_token = pool_token(secret=DEV_RUNNER_SECRET, pool="gpu")
    refused = "refuses to start in production.*\\n.*RDV_RUNNER_TOKEN has a development value"
    with pytest.raises(SettingsError, match=refused):
        RunnerSettings.from_env({**switch, "RDV_RUNNER_POOL": "gpu", "RDV_RUNNER_TOKEN": dev_token})
    good = RunnerSettings.from_env({**switch, "RDV_RUNNER_POOL": "gpu", "RDV_RUNNER_TOKEN": PRODUCTION_TOKEN})
    assert good.pool == "gpu"


def test_production_refuses_every_development_default_it_is_given() -> None:
    env = {"RDV_ENV": "production", "RDV_RUNNER_POOL": "gpu", "RDV_RUNNER_TOKEN": PRODUCTION_TOKEN,
           "RDV_PUBLIC_URL": "http://cp:8000", "DJANGO_DEBUG": "1", "RDV_VALIDATION_SANDBOX": "none"}
    with pytest.raises(SettingsError) as caught:
        RunnerSettings.from_env(env)
    assert "DJANGO_DEBUG" in str(caught.value) and "RDV_VALIDATION_SANDBOX" in str(caught.value)


def test_an_unknown_environment_is_an_error() -> None:
    with pytest.raises(SettingsError, match="RDV_ENV must be one of development, production"):
        RunnerSettings.from_env({"RDV_ENV": "prod"})


def test_production_needs_the_control_plane_url_the_token_is_pinned_to() -> None:
    env = {"RDV_ENV": "production", "RDV_RUNNER_POOL": "gpu", "RDV_RUNNER_TOKEN": PRODUCTION_TOKEN}
    with pytest.raises(SettingsError, match="RDV_PUBLIC_URL is required in production"):
        RunnerSettings.from_env(env)
    assert RunnerSettings.from_env({**env, "RDV_PUBLIC_URL": "https://cp.example/"}).control_plane_url == (
        "https://cp.example"
    )
    with pytest.raises(SettingsError, match="RDV_PUBLIC_URL must be an http"):
        RunnerSettings.from_env({"RDV_PUBLIC_URL": "ftp://cp"})


def test_the_declared_defaults_are_the_settings_defaults() -> None:
    """The catalogue (README table) and the dataclass agree, so the documented default is the one used."""
    from dataclasses import fields

    from contracts.settings_catalog import setting

    defaults = {field.name: field.default for field in fields(RunnerSettings)}
    field_of = {
        "RDV_MODEL_TIMEOUT_MS": "model_timeout_ms", "RDV_MODEL_TIMEOUT_MAX_MS": "model_timeout_max_ms",
        "RDV_MODEL_MEMORY_MB": "model_memory_mb", "REDIS_URL": "redis_url",
        "RDV_STATE_REDIS_TIMEOUT_MS": "state_timeout_ms", "RDV_STATUS_INTERVAL_S": "status_interval_s",
        "RDV_RUNNER_TRUSTED": "trusted",
    }
    assert {name: setting(name).default for name in field_of} == {name: defaults[f] for name, f in field_of.items()}
    settings = RunnerSettings.from_env({})
    assert {name: getattr(settings, f) for name, f in field_of.items()} == {
        name: defaults[f] for name, f in field_of.items()
    }


def test_a_blank_value_is_an_unset_one() -> None:
    assert RunnerSettings.from_env({"RDV_MAX_BATCH": " ", "RDV_RUNNER_POOL": ""}).max_batch == 256
