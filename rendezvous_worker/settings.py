"""Settings of a rendezvous worker, read once from the environment and passed down explicitly."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from contracts.environment import PRODUCTION, DevDefaultError, environment_of, refuse_dev_defaults
from contracts.kafka import KafkaSettings
from contracts.settings_catalog import read_float, read_optional_int, read_optional_str, read_str


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    kafka: KafkaSettings
    group_id: str
    instance_id: str
    commit_interval_s: float
    orphan_ttl_s: float
    stale_after_s: float
    # How long the group waits for a silent instance before its partitions move to the others (None:
    # the client's default, 45 s with librdkafka). A crashed instance's requests wait this long.
    session_timeout_ms: int | None = None
    # Seconds between heartbeats on rdv.status (a report also leaves after every config change).
    status_interval_s: float = 3.0
    # Rewritten with the loop's and the follower's state every few seconds when set (a liveness probe reads it).
    health_file: Path | None = None
    # Prometheus ``GET /metrics`` on this port when set (rendezvous_worker.metrics), listening on ``metrics_addr``.
    metrics_port: int | None = None
    metrics_addr: str = "0.0.0.0"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerSettings:
        """The worker's variables (contracts/settings_catalog/catalog.py); a bad one stops the process."""
        env = os.environ if environ is None else environ
        try:
            if environment_of(env) == PRODUCTION:
                refuse_dev_defaults(env, process="the rendezvous worker (RDV_ENV=production)")
        except (ValueError, DevDefaultError) as exc:
            raise SystemExit(f"rendezvous worker: {exc}") from exc
        try:
            return cls(
                kafka=KafkaSettings.from_env(env),
                group_id=read_str(env, "RDV_RENDEZVOUS_GROUP"),
                instance_id=read_optional_str(env, "RDV_INSTANCE_ID") or f"{socket.gethostname()}-{os.getpid()}",
                commit_interval_s=read_float(env, "RDV_COMMIT_INTERVAL_S"),
                orphan_ttl_s=read_float(env, "RDV_ORPHAN_TTL_S"),
                stale_after_s=read_float(env, "RDV_STALE_AFTER_S"),
                session_timeout_ms=read_optional_int(env, "RDV_CONSUMER_SESSION_TIMEOUT_MS"),
                status_interval_s=read_float(env, "RDV_STATUS_INTERVAL_S"),
                health_file=_path_or_none(read_optional_str(env, "RDV_RENDEZVOUS_HEALTH_FILE")),
                metrics_port=read_optional_int(env, "RDV_RENDEZVOUS_METRICS_PORT"),
                metrics_addr=read_str(env, "RDV_METRICS_ADDR"),
            )
        except ValueError as exc:
            raise SystemExit(f"rendezvous worker: bad setting: {exc}") from exc


def _path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None
