"""Publishing a worker's WorkerStatus to ``rdv.status``: after every config application and as a heartbeat.

Shared by model runners and rendezvous workers. It runs on the worker's own loop thread and only ever
queues a record (``produce`` never waits), so the hot path pays a dictionary walk per config change and
one small record every few seconds. Delivery is best effort: a lost report is replaced by the next one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from contracts.codec import encode
from contracts.config import ServiceConfig
from contracts.kafka import Producer
from contracts.keys import ServiceKey
from contracts.messages import AppliedRevision, VersionStatus, WorkerKind, WorkerStatus
from contracts.topics import STATUS_TOPIC, config_key

log = logging.getLogger(__name__)

VersionsReader = Callable[[], list[VersionStatus]]
# How often a runner looks whether a version's state changed (loaded, failed) between heartbeats.
VERSION_CHECK_S = 0.5


def applied_revisions(
    previous: Mapping[str, AppliedRevision], services: Mapping[ServiceKey, ServiceConfig], now: float
) -> dict[str, AppliedRevision]:
    """Each service's revision, keeping the first time it was applied: a heartbeat does not move it."""
    out: dict[str, AppliedRevision] = {}
    for (tenant, service), config in services.items():
        key = config_key(tenant, service)
        old = previous.get(key)
        out[key] = old if old is not None and old.revision == config.revision else AppliedRevision(
            revision=config.revision, applied_at=now
        )
    return out


class StatusReporter:
    def __init__(
        self,
        producer: Producer,
        *,
        worker: str,
        kind: WorkerKind,
        pool: str | None = None,
        interval_s: float = 3.0,
        versions: VersionsReader | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"the status interval must be positive, not {interval_s}")
        self._producer = producer
        self._worker = worker
        self._kind: WorkerKind = kind
        self._pool = pool
        self._interval_s = interval_s
        self._versions = versions
        self._clock = clock
        self._revisions: dict[str, AppliedRevision] = {}
        self._last_versions: list[VersionStatus] = []
        self._next_heartbeat = 0.0
        self._next_version_check = 0.0
        self.published = 0

    def applied(self, services: Mapping[ServiceKey, ServiceConfig]) -> None:
        """Call right after the worker runs on ``services``: reports the change at once."""
        now = self._clock()
        self._revisions = applied_revisions(self._revisions, services, now)
        self.publish(now)

    def tick(self) -> None:
        """Call from the loop's housekeeping: a heartbeat when due, or a report when a version changed."""
        now = self._clock()
        if now >= self._next_heartbeat:
            self.publish(now)
        elif self._versions is not None and now >= self._next_version_check:
            self._next_version_check = now + VERSION_CHECK_S
            if self._versions() != self._last_versions:
                self.publish(now)

    def publish(self, now: float | None = None) -> None:
        at = self._clock() if now is None else now
        versions = self._versions() if self._versions is not None else []
        status = WorkerStatus(
            worker=self._worker,
            kind=self._kind,
            pool=self._pool,
            at=at,
            interval_s=self._interval_s,
            revisions=self._revisions,
            versions=versions,
        )
        try:
            self._producer.produce(STATUS_TOPIC, encode(status), key=self._worker.encode())
        except Exception as exc:  # e.g. a full local queue: the next heartbeat says the same again
            log.warning("status report not queued: %s", exc)
            return
        self._last_versions = versions
        self._next_heartbeat = at + self._interval_s
        self._next_version_check = at + VERSION_CHECK_S
        self.published += 1
