"""What the control plane's consumers (decisions, status) share: a step that stores each batch in the
database and sweeps old rows now and then, and the management command's process around its loop."""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Mapping

from django.db import close_old_connections, connections

from contracts.kafka import KafkaError, KafkaSettings, Record, make_admin, make_consumer, make_producer
from contracts.topology import platform_topics
from streaming import LoopSettings, Step, StepIO, StreamLoop, Subscription
from streaming.follower import ConfigFollower


def ensure_platform_topics(kafka: KafkaSettings) -> None:
    """``rdv.config`` must exist compacted and ``rdv.dlq`` must exist before anything reads or writes them."""
    admin = make_admin(kafka)
    try:
        admin.ensure_topics(platform_topics())
    finally:
        admin.close()


class StoringStep(Step):
    """Counts what it stored and dead-lettered; runs ``sweep`` every ``sweep_interval_s``."""

    def __init__(self, sweep_interval_s: float) -> None:
        self._sweep_interval_s = sweep_interval_s
        self._next_sweep = 0.0
        self.stored = 0
        self.dead_letters = 0

    @abstractmethod
    def sweep(self) -> None:
        """Delete what is past its retention."""

    def dead_letter(self, record: Record, error: str, io: StepIO) -> None:
        io.dead_letter(record, error)
        self.dead_letters += 1

    def next_wakeup(self) -> float | None:
        return self._next_sweep

    def tick(self, now: float, io: StepIO) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._sweep_interval_s
        # A long-running process outlives connections (server restarts, CONN_MAX_AGE): drop dead ones.
        close_old_connections()
        self.sweep()

    def health(self) -> Mapping[str, object]:
        return {"stored": self.stored, "dead_letters": self.dead_letters}


class ConsumerProcess:
    """A ``manage.py consume_*`` process: its storing step on a loop, until ``stop``; prints
    ``[<name>] ready`` once it owns its partitions."""

    def __init__(self, step: StoringStep) -> None:
        self.step = step
        self._stop = threading.Event()
        self.ready = threading.Event()

    @property
    def stored(self) -> int:
        return self.step.stored

    @property
    def dead_letters(self) -> int:
        return self.step.dead_letters

    def stop(self) -> None:
        self._stop.set()

    def run_loop(self, loop: StreamLoop) -> None:
        loop.run(self._stop)

    def run_following_config(
        self,
        kafka: KafkaSettings,
        *,
        group_id: str,
        settings: LoopSettings,
        source: Subscription | None = None,
        follower: ConfigFollower | None = None,
    ) -> None:
        """The step on a loop in ``group_id`` (a background consumer: off the hot path, it may wait longer
        when idle), following the config (``follower``, or one of its own), until ``stop``."""
        ensure_platform_topics(kafka)
        follower = (follower or ConfigFollower(kafka)).start()
        try:
            if not follower.wait_ready(60):
                raise KafkaError("could not read rdv.config within 60 s")
            loop = StreamLoop(
                self.step,
                consumer=make_consumer(kafka.background(), group_id=group_id, assignor="range"),
                producer=make_producer(kafka),
                admin=make_admin(kafka),
                source=source or Subscription(),
                config=follower,
                settings=settings,
                on_ready=self.announce_ready,
            )
            self.run_loop(loop)
        finally:
            follower.stop()
            connections.close_all()

    def announce_ready(self) -> None:
        # Ready means partitions are owned: a record written now is read at once.
        print(f"[{self.step.name}] ready", flush=True)
        self.ready.set()
