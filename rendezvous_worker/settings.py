"""Settings of a rendezvous worker, read once from the environment and passed down explicitly."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from contracts.environment import PRODUCTION, DevDefaultError, environment_of, refuse_dev_defaults
from contracts.kafka import KafkaSettings


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

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> WorkerSettings:
        env = os.environ if environ is None else environ
        try:
            if environment_of(env) == PRODUCTION:
                refuse_dev_defaults(env, process="the rendezvous worker (RDV_ENV=production)")
        except (ValueError, DevDefaultError) as exc:
            raise SystemExit(f"rendezvous worker: {exc}") from exc
        try:
            return cls(
                kafka=KafkaSettings.from_env(env),
                group_id=env.get("RDV_RENDEZVOUS_GROUP", "rdv-rendezvous"),
                instance_id=env.get("RDV_INSTANCE_ID", f"{socket.gethostname()}-{os.getpid()}"),
                commit_interval_s=float(env.get("RDV_COMMIT_INTERVAL_S", "0.2")),
                orphan_ttl_s=float(env.get("RDV_ORPHAN_TTL_S", "30")),
                stale_after_s=float(env.get("RDV_STALE_AFTER_S", "60")),
                session_timeout_ms=int(env["RDV_CONSUMER_SESSION_TIMEOUT_MS"])
                if env.get("RDV_CONSUMER_SESSION_TIMEOUT_MS")
                else None,
                status_interval_s=_positive(float(env.get("RDV_STATUS_INTERVAL_S", "3")), "RDV_STATUS_INTERVAL_S"),
            )
        except ValueError as exc:
            raise SystemExit(f"rendezvous worker: bad setting: {exc}") from exc


def _positive(value: float, name: str) -> float:
    if value <= 0:
        raise ValueError(f"{name} must be positive, not {value:g}")
    return value
