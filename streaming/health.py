"""Liveness and readiness of one loop, readable from any thread (a health file, a probe, a test)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(slots=True)
class LoopHealth:
    name: str
    started_at: float | None = None
    ready_at: float | None = None
    last_turn: float | None = None  # monotonic
    failure: str | None = None
    running: bool = False

    def started(self) -> None:
        self.started_at = time.time()
        self.running = True

    def ready(self) -> None:
        self.ready_at = time.time()

    def turned(self) -> None:
        self.last_turn = time.monotonic()

    def failed(self, why: str) -> None:
        self.failure = why

    def stopped(self) -> None:
        self.running = False

    def alive(self, stall_s: float = 30.0) -> bool:
        """Running, not failed, and turning (a loop stuck in one call for ``stall_s`` is not)."""
        if not self.running or self.failure is not None:
            return False
        return self.last_turn is None or time.monotonic() - self.last_turn < stall_s

    def report(self) -> dict[str, object]:
        return {
            "loop": self.name,
            "alive": self.alive(),
            "ready": self.ready_at is not None,
            "failure": self.failure,
            "since_last_turn_s": None if self.last_turn is None else round(time.monotonic() - self.last_turn, 3),
        }


Report = Callable[[], Mapping[str, object]]


class HealthFile:
    """A one-line JSON status of a process's loops, rewritten every ``interval_s`` from the loop that
    owns it: a liveness probe reads ``alive`` and how old ``at`` is (a stuck loop stops rewriting it)."""

    def __init__(self, path: Path, *, identity: Mapping[str, object], interval_s: float = 5.0) -> None:
        self._path = path
        self._identity = dict(identity)
        self._interval_s = interval_s
        self._next = 0.0
        self._loops: dict[str, Report] = {}
        self._others: dict[str, Report] = {}

    def add_loop(self, name: str, report: Report) -> None:
        """A loop's report; the process is alive only while every loop's ``alive`` is true."""
        self._loops[name] = report

    def add(self, name: str, report: Report) -> None:
        """Anything else worth a look (the config follower, …)."""
        self._others[name] = report

    def tick(self) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self._interval_s
        self.write()

    def write(self) -> None:
        loops = {name: dict(report()) for name, report in self._loops.items()}
        status = {
            **self._identity,
            "at": time.time(),
            "alive": all(bool(loop.get("alive")) for loop in loops.values()),
            "loops": loops,
            **{name: dict(report()) for name, report in self._others.items()},
        }
        tmp = self._path.with_suffix(self._path.suffix + ".tmp")
        tmp.write_text(json.dumps(status, default=str))
        tmp.replace(self._path)
