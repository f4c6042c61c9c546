"""Per-loop counters and hooks: what every loop reports, whatever its step.

Observers (e.g. a Prometheus exporter) subscribe with ``observe``; each is called once per processed
batch with the loop's name, the batch size and the seconds its step took. ``lag`` is the loop's
consumer lag per topic, sampled by the loop every few seconds (``LoopSettings.lag_interval_s``) and
replaced whole, so another thread (a Prometheus scrape) may read it at any time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

BatchObserver = Callable[[str, int, float], None]


@dataclass(slots=True)
class LoopMetrics:
    records: int = 0
    batches: int = 0
    produced: int = 0
    dead_lettered: int = 0
    commits: int = 0
    commit_failures: int = 0
    busy_s: float = 0.0
    lag: dict[str, int] = field(default_factory=dict)
    observers: list[BatchObserver] = field(default_factory=list)

    def observe(self, observer: BatchObserver) -> None:
        self.observers.append(observer)

    def batch(self, loop: str, size: int, seconds: float) -> None:
        self.records += size
        self.batches += 1
        self.busy_s += seconds
        for observer in self.observers:
            observer(loop, size, seconds)

    def snapshot(self) -> dict[str, float]:
        return {
            "records": self.records,
            "batches": self.batches,
            "produced": self.produced,
            "dead_lettered": self.dead_lettered,
            "commits": self.commits,
            "commit_failures": self.commit_failures,
            "busy_s": round(self.busy_s, 3),
        }
