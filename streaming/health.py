"""Liveness and readiness of one loop, readable from any thread (a health file, a probe, a test)."""

from __future__ import annotations

import time
from dataclasses import dataclass


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
