"""The drift consumer: ``rdv.drift`` reports into merged, scored drift buckets (``controlplane.drift``).

A processing step on the streaming runtime, in the ``rdv-drift`` group, subscribed to ``rdv.drift``
and following ``rdv.config`` (to know which pools run a service's canary). A report is admitted only
when it is signed with the token of the pool it names and that pool runs the canary of the service it
names (``contracts.provenance.admit_drift_report``); anything else goes to the DLQ. Each batch is stored
before ``process`` returns, storing is idempotent (a part is stored once per ``report_id``), so the
runtime's commit-when-done loses nothing and a replay changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DataError, IntegrityError, close_old_connections
from django.utils import timezone

from contracts.kafka import KafkaSettings, Record
from contracts.messages import DriftReport
from contracts.provenance import Refused, admit_drift_report
from contracts.topics import DRIFT_TOPIC
from controlplane.consuming import ConsumerProcess, StoringStep
from controlplane.drift.services import DriftSettings, drift_expire, drift_parts_store, drift_references_settle
from streaming import LoopSettings, StepIO, Subscription
from streaming.follower import ConfigFollower

log = logging.getLogger(__name__)

GROUP_ID = "rdv-drift"


@dataclass(frozen=True, slots=True)
class DriftConsumerSettings:
    kafka: KafkaSettings
    runner_secret: str
    drift: DriftSettings = field(default_factory=DriftSettings)
    group_id: str = GROUP_ID
    batch_size: int = 200
    poll_wait_s: float = 0.5
    # How often references that became due are fixed (a service's first buckets settle).
    settle_interval_s: float = 2.0
    sweep_interval_s: float = 3600.0

    @classmethod
    def from_django(cls, **overrides: object) -> DriftConsumerSettings:
        values: dict[str, object] = {
            "kafka": settings.RDV_KAFKA,
            "runner_secret": settings.RDV_RUNNER_SECRET,
            "drift": DriftSettings.from_django(),
        }
        return cls(**{**values, **overrides})  # type: ignore[arg-type]


class DriftStep(StoringStep):
    """Admits and stores each batch of reports; refused ones (and what the database refuses) go to the DLQ."""

    name = "drift"

    def __init__(self, config: DriftConsumerSettings, follower: ConfigFollower) -> None:
        super().__init__(config.sweep_interval_s)
        self._config = config
        self._follower = follower
        self._next_settle = 0.0

    def process(self, records: Sequence[Record], io: StepIO) -> None:
        services = self._follower.services
        admitted: list[tuple[Record, DriftReport]] = []
        for record in records:
            report = admit_drift_report(
                record.value, record.key, services=services, runner_secret=self._config.runner_secret
            )
            if isinstance(report, Refused):
                self.dead_letter(record, report.reason, io)
            else:
                admitted.append((record, report))
        if not admitted:
            return
        close_old_connections()
        try:
            self.stored += drift_parts_store(reports=[r for _, r in admitted], config=self._config.drift)
            return
        except (DataError, IntegrityError) as exc:
            log.warning("batch of %d drift reports not storable (%s); storing one by one", len(admitted), exc)
        # Any other database error propagates: the loop stops uncommitted and the batch is read again.
        for record, report in admitted:
            try:
                self.stored += drift_parts_store(reports=[report], config=self._config.drift)
            except (DataError, IntegrityError) as exc:
                self.dead_letter(record, f"not storable: {exc}", io)

    def next_wakeup(self) -> float | None:
        return min(self._next_settle, super().next_wakeup() or self._next_settle)

    def tick(self, now: float, io: StepIO) -> None:
        super().tick(now, io)
        if now < self._next_settle:
            return
        self._next_settle = now + self._config.settle_interval_s
        close_old_connections()
        fixed = drift_references_settle(config=self._config.drift)
        if fixed:
            log.info("drift: %d reference(s) fixed", fixed)

    def sweep(self) -> None:
        expired = drift_expire(older_than=timezone.now() - self._config.drift.retention)
        if expired:
            log.info("retention: %d drift rows older than %s deleted", expired, self._config.drift.retention)


class DriftConsumer(ConsumerProcess):
    """``manage.py consume_drift``: the drift step on a loop subscribed to ``rdv.drift``, following the config."""

    def __init__(self, config: DriftConsumerSettings) -> None:
        self._config = config
        self._follower = ConfigFollower(config.kafka)
        super().__init__(DriftStep(config, self._follower))

    def run(self) -> None:
        self.run_following_config(
            self._config.kafka,
            group_id=self._config.group_id,
            settings=LoopSettings(max_batch=self._config.batch_size, max_wait_s=self._config.poll_wait_s),
            source=Subscription((DRIFT_TOPIC,)),
            follower=self._follower,
        )
