"""Settings come from the environment, with defaults for development and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_runner.settings import RunnerSettings, SettingsError


def test_defaults() -> None:
    settings = RunnerSettings.from_env({})

    assert (settings.pool, settings.token, settings.max_batch) == ("default", "dev-runner-token", 256)
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
