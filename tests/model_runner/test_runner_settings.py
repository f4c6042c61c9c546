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
    ],
)
def test_bad_values_fail_with_a_clear_message(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        RunnerSettings.from_env(env)
