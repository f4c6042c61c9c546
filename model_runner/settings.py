"""Runner settings, read from the environment once into one typed object that is passed down."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from contracts.kafka import KafkaSettings
from contracts.topics import is_valid_slug


class SettingsError(ValueError):
    """A setting is present but unusable; raised at start so a bad deploy fails loudly, not later."""


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    pool: str
    runner_id: str
    token: str
    artifact_cache: Path
    max_batch: int
    kafka: KafkaSettings
    # Touched with a one-line JSON status every few seconds when set (a liveness probe reads it).
    health_file: Path | None = None
    # Seconds between heartbeats on rdv.status (a report also leaves after every config change).
    status_interval_s: float = 3.0

    @property
    def group_id(self) -> str:
        return f"rdv-runner-{self.pool}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RunnerSettings:
        env = os.environ if environ is None else environ
        pool = env.get("RDV_RUNNER_POOL", "default")
        if not is_valid_slug(pool):
            raise SettingsError(f"RDV_RUNNER_POOL must be a slug like 'default' or 'gpu-1', not {pool!r}")
        runner_id = env.get("RDV_RUNNER_ID") or f"{socket.gethostname()}-{os.getpid()}"
        token = env.get("RDV_RUNNER_TOKEN", "dev-runner-token")
        if not token:
            raise SettingsError("RDV_RUNNER_TOKEN is set but empty")
        cache = env.get("RDV_ARTIFACT_CACHE") or str(Path.home() / ".cache" / "rendezvous" / "artifacts")
        raw_batch = env.get("RDV_MAX_BATCH", "256")
        try:
            max_batch = int(raw_batch)
        except ValueError:
            raise SettingsError(f"RDV_MAX_BATCH must be a whole number, not {raw_batch!r}") from None
        if max_batch < 1:
            raise SettingsError(f"RDV_MAX_BATCH must be at least 1, not {max_batch}")
        try:
            kafka = KafkaSettings.from_env(dict(env))
        except ValueError as exc:
            raise SettingsError(f"Kafka settings: {exc}") from exc
        health = env.get("RDV_RUNNER_HEALTH_FILE")
        status_interval_s = _positive_float(env, "RDV_STATUS_INTERVAL_S", "3")
        return cls(
            pool=pool,
            runner_id=runner_id,
            token=token,
            artifact_cache=Path(cache).expanduser(),
            max_batch=max_batch,
            kafka=kafka,
            health_file=Path(health) if health else None,
            status_interval_s=status_interval_s,
        )


def _positive_float(env: Mapping[str, str], name: str, default: str) -> float:
    raw = env.get(name, default)
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, not {value:g}")
    return value
