"""What the control plane's consumers (decisions, status) share: a step that stores each batch in the
database and sweeps old rows now and then, and the management command's process around its loop."""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Mapping

from django.db import close_old_connections

from contracts.kafka import KafkaSettings, Record, make_admin
from contracts.topology import platform_topics
from streaming import Step, StepIO, StreamLoop


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

    def announce_ready(self) -> None:
        # Ready means partitions are owned: a record written now is read at once.
        print(f"[{self.step.name}] ready", flush=True)
        self.ready.set()
