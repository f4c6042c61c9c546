"""Follows the compacted ``rdv.config`` topic: every process's live view of every service.

On start it reads the topic from the beginning and is ``ready`` once it has caught up with the high
watermark; after that it keeps following, on a thread of its own, as one more ``StreamLoop`` (a
partition assignment, no group, nothing committed). Each record replaces the whole mapping (copy on
write), so readers on other threads never see a half-applied change.

If the follower stops (its thread died, the topic became unreadable), ``check`` raises in every loop
that reads the config: the process stops, and is restarted, rather than serve a frozen config.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence

from contracts.config import ServiceConfig
from contracts.follower import ChangeListener, SnapshotFilter, apply_record
from contracts.kafka import BEGINNING, Consumer, KafkaSettings, Record, TopicPartition, make_consumer, make_producer
from contracts.keys import ServiceKey
from contracts.topics import CONFIG_TOPIC
from streaming.io import StepIO
from streaming.runtime import Assignment, ConfigView, LoopSettings, StreamLoop
from streaming.step import Step

log = logging.getLogger(__name__)


class FollowerFailed(RuntimeError):
    """The config follower stopped: whatever this process holds of the config is no longer current."""


class _ConfigStep(Step):
    name = "config-follower"

    def __init__(self, follower: ConfigFollower, consumer: Consumer) -> None:
        self._follower = follower
        self._consumer = consumer
        self._high: int | None = None

    def process(self, records: Sequence[Record], io: StepIO) -> None:
        for record in records:
            self._follower._apply(record)  # noqa: SLF001 - the follower's own step
            if self._high is not None and record.offset + 1 >= self._high:
                self._follower._caught_up()  # noqa: SLF001

    def tick(self, now: float, io: StepIO) -> None:
        if self._follower.is_ready:
            return
        if self._high is None:
            self._high = _high_watermark(self._consumer)
        if self._high == 0 or self._consumer.position(CONFIG_TOPIC, 0) >= self._high:
            self._follower._caught_up()  # noqa: SLF001


def _high_watermark(consumer: Consumer) -> int:
    deadline = time.monotonic() + 30.0
    while True:
        try:
            return consumer.watermarks(CONFIG_TOPIC, 0)[1]
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class ConfigFollower(ConfigView):
    def __init__(
        self,
        settings: KafkaSettings,
        *,
        on_change: ChangeListener | None = None,
        refuse: SnapshotFilter | None = None,
    ) -> None:
        self._settings = settings
        self._on_change = on_change
        self._refuse = refuse
        self._services: Mapping[ServiceKey, ServiceConfig] = {}
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="config-follower", daemon=True)
        self._loop: StreamLoop | None = None
        self._failure: str | None = None
        # Bumped on every applied change; loops compare it to notice changes cheaply.
        self.generation = 0

    @property
    def services(self) -> Mapping[ServiceKey, ServiceConfig]:
        return self._services

    @property
    def is_ready(self) -> bool:
        return self._ready.is_set()

    @property
    def failure(self) -> str | None:
        """Why the follower stopped following, or None while it follows."""
        gone = self._thread.ident is not None and not self._thread.is_alive() and not self._stop.is_set()
        if self._failure is None and gone:
            return "the config follower thread is gone"
        return self._failure

    def check(self) -> None:
        failure = self.failure
        if failure is not None:
            raise FollowerFailed(f"the config is no longer followed ({failure}); stopping rather than serving it stale")

    def get(self, tenant: str, service: str) -> ServiceConfig | None:
        return self._services.get((tenant, service))  # type: ignore[call-overload]

    def start(self) -> ConfigFollower:
        self._thread.start()
        return self

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """Caught up with the topic; raises FollowerFailed if the follower died trying."""
        deadline = time.monotonic() + timeout
        while not self._ready.wait(min(0.1, max(0.0, deadline - time.monotonic()))):
            self.check()
            if time.monotonic() >= deadline:
                return False
        return True

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=5.0)

    def health(self) -> dict[str, object]:
        report: dict[str, object] = {"ready": self.is_ready, "generation": self.generation, "failure": self.failure}
        if self._loop is not None:
            report |= {"alive": self._loop.health.alive()}
        return report

    def _run(self) -> None:
        try:
            # Off the hot path: a config record still ends a held fetch at once.
            consumer = make_consumer(self._settings.background(), group_id=None)
            # The follower only reads; the runtime wants a producer for steps that write (this one does not).
            producer = make_producer(self._settings)
        except Exception as exc:
            self._failure = f"{type(exc).__name__}: {exc}"
            log.exception("config follower could not start")
            return
        try:
            self._loop = StreamLoop(
                _ConfigStep(self, consumer),
                consumer=consumer,
                producer=producer,
                source=Assignment((TopicPartition(CONFIG_TOPIC, 0, BEGINNING),)),
                settings=LoopSettings(max_wait_s=0.2),
            )
            self._loop.run(self._stop)
        except Exception as exc:
            self._failure = f"{type(exc).__name__}: {exc}"
            log.exception("config follower stopped")

    def _caught_up(self) -> None:
        self._ready.set()

    def _apply(self, record: Record) -> None:
        applied = apply_record(self._services, record.key, record.value, self._refuse)
        if applied is None:
            return
        self._services = applied.services
        self.generation += 1
        if self._on_change is not None:
            self._on_change(applied.key, applied.config)
