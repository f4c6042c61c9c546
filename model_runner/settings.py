"""Runner settings, read from the environment once into one typed object that is passed down."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from contracts.environment import PRODUCTION, DevDefaultError, environment_of, refuse_dev_defaults
from contracts.kafka import KafkaSettings
from contracts.pool_tokens import DEV_RUNNER_SECRET, pool_of_token, pool_token
from contracts.settings_catalog import (
    SettingError,
    raw,
    read_bool,
    read_float,
    read_int,
    read_optional_int,
    read_optional_str,
    read_str,
)
from contracts.topics import is_valid_slug

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class SettingsError(ValueError):
    """A setting is present but unusable; raised at start so a bad deploy fails loudly, not later."""


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    pool: str
    runner_id: str
    # The pool's token (contracts.pool_tokens): it asks the control plane for signed artifact URLs.
    token: str
    artifact_cache: Path
    max_batch: int
    kafka: KafkaSettings
    # Touched with a one-line JSON status every few seconds when set (a liveness probe reads it).
    health_file: Path | None = None
    # The operator trusts every artifact deployed to this pool: pickle/joblib and ``python`` load here.
    trusted: bool = False
    # How long one micro-batch call of a version may take before its requests get error scores; a
    # deployment may ask for another value (``timeout_ms`` in the version metadata) up to the maximum.
    model_timeout_ms: int = 1000
    model_timeout_max_ms: int = 10_000
    # Loaded versions beyond this are evicted least recently used first (champions stay).
    model_memory_mb: float = 1024.0
    # Where versions' internal state is read (RDV_REDIS_URL, else REDIS_URL), and how long a batch waits.
    redis_url: str = DEFAULT_REDIS_URL
    state_timeout_ms: int = 50
    # Seconds between heartbeats on rdv.status (a report also leaves after every config change).
    status_interval_s: float = 3.0
    # The control plane (RDV_PUBLIC_URL): when set, the pool token is sent to grant URLs under it only,
    # whatever a config snapshot says (required in production).
    control_plane_url: str | None = None
    # Prometheus ``GET /metrics`` on this port when set (model_runner.metrics), listening on ``metrics_addr``.
    metrics_port: int | None = None
    metrics_addr: str = "0.0.0.0"

    @property
    def group_id(self) -> str:
        return f"rdv-runner-{self.pool}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RunnerSettings:
        """The runner's variables (contracts/settings_catalog/catalog.py); a bad one raises ``SettingsError``."""
        env = os.environ if environ is None else environ
        try:
            return cls._from_env(env)
        except SettingError as exc:
            raise SettingsError(str(exc)) from None

    @classmethod
    def _from_env(cls, env: Mapping[str, str]) -> RunnerSettings:
        pool = read_str(env, "RDV_RUNNER_POOL")
        if not is_valid_slug(pool):
            raise SettingsError(f"RDV_RUNNER_POOL must be a slug like 'default' or 'gpu-1', not {pool!r}")
        runner_id = read_optional_str(env, "RDV_RUNNER_ID") or f"{socket.gethostname()}-{os.getpid()}"
        production = _is_production(env)
        token = _pool_token(env, pool=pool, production=production)
        cache = read_str(env, "RDV_ARTIFACT_CACHE")
        max_batch = read_int(env, "RDV_MAX_BATCH")
        try:
            kafka = KafkaSettings.from_env(dict(env))
        except ValueError as exc:
            raise SettingsError(f"Kafka settings: {exc}") from exc
        health = read_optional_str(env, "RDV_RUNNER_HEALTH_FILE")
        timeout_ms = read_int(env, "RDV_MODEL_TIMEOUT_MS")
        timeout_max_ms = max(timeout_ms, read_int(env, "RDV_MODEL_TIMEOUT_MAX_MS"))
        redis_url = read_optional_str(env, "RDV_REDIS_URL") or read_str(env, "REDIS_URL")
        if not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(f"RDV_REDIS_URL must be a redis:// URL, not {redis_url!r}")
        state_timeout_ms = read_int(env, "RDV_STATE_REDIS_TIMEOUT_MS")
        status_interval_s = read_float(env, "RDV_STATUS_INTERVAL_S")
        # The control plane's own default (its URL on a developer's machine) is no address for a runner.
        control_plane_url = (read_optional_str(env, "RDV_PUBLIC_URL", default=None) or "").rstrip("/") or None
        if control_plane_url and urlparse(control_plane_url).scheme not in ("http", "https"):
            raise SettingsError(f"RDV_PUBLIC_URL must be an http(s) URL, not {control_plane_url!r}")
        if production:
            if not control_plane_url:
                raise SettingsError("RDV_PUBLIC_URL is required in production: where runners reach the control plane")
            try:
                refuse_dev_defaults(env, process="the model runner (RDV_ENV=production)")
            except DevDefaultError as exc:
                raise SettingsError(str(exc)) from None
        return cls(
            pool=pool,
            runner_id=runner_id,
            token=token,
            artifact_cache=Path(cache).expanduser(),
            max_batch=max_batch,
            kafka=kafka,
            health_file=Path(health) if health else None,
            trusted=read_bool(env, "RDV_RUNNER_TRUSTED"),
            model_timeout_ms=timeout_ms,
            model_timeout_max_ms=timeout_max_ms,
            model_memory_mb=read_float(env, "RDV_MODEL_MEMORY_MB"),
            redis_url=redis_url,
            state_timeout_ms=state_timeout_ms,
            status_interval_s=status_interval_s,
            control_plane_url=control_plane_url,
            metrics_port=read_optional_int(env, "RDV_RUNNER_METRICS_PORT"),
            metrics_addr=read_str(env, "RDV_METRICS_ADDR"),
        )


def _is_production(env: Mapping[str, str]) -> bool:
    try:
        return environment_of(env) == PRODUCTION
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _pool_token(env: Mapping[str, str], *, pool: str, production: bool) -> str:
    """The pool's artifact-access token; in development the one derived from the development secret."""
    hint = f"print it with `manage.py rdv_runner_token --pool {pool}` on the control plane"
    token = raw(env, "RDV_RUNNER_TOKEN")  # set but blank is a mistake, not "unset"
    if token is None:
        if production:
            raise SettingsError(f"RDV_RUNNER_TOKEN is required in production: {hint}")
        return pool_token(secret=DEV_RUNNER_SECRET, pool=pool)
    token = token.strip()
    if not token:
        raise SettingsError("RDV_RUNNER_TOKEN is set but empty")
    claimed = pool_of_token(token)
    if claimed is None:
        raise SettingsError(f"RDV_RUNNER_TOKEN is not a runner pool token (rdvpool.<pool>.<mac>): {hint}")
    if claimed != pool:
        raise SettingsError(f"RDV_RUNNER_TOKEN is the token of pool {claimed!r}, not of RDV_RUNNER_POOL {pool!r}")
    return token
