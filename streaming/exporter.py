"""Prometheus metrics of a worker process (runner, rendezvous), served on its own port (DESIGN.md §7).

The hot path pays once per batch, not per record: a step tallies what a batch did in a plain dict
(``RequestTally``, no lock) and merges it into the process's ``RequestMetrics`` with one lock. Loop
counters and consumer lag are read from each loop's ``LoopMetrics`` when Prometheus scrapes, so they
cost the loop nothing at all. ``process_resident_memory_bytes`` and the other ``process_*`` series come
from prometheus_client's process collector.

Labels carry tenant and service slugs, model slugs and versions: the metrics port belongs on the
operators' network, never on a tenant-facing one.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from streaming.metrics import LoopMetrics

# Seconds; from a fast model's micro-batch to a slow request past its deadline.
LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)
# Every request series has these labels, in this order (the names other model servers use).
REQUEST_LABELS: tuple[str, ...] = ("tenant", "service", "model", "version", "role", "outcome")
RequestKey = tuple[str, str, str, str, str, str]


@dataclass(slots=True)
class _Latency:
    buckets: list[int]  # per bucket (not cumulative), the last one is +Inf
    total_s: float = 0.0


def _new_latency() -> _Latency:
    return _Latency([0] * (len(LATENCY_BUCKETS_S) + 1))


@dataclass(slots=True)
class RequestTally:
    """What one batch did, per label set: built by one thread with no lock, merged once."""

    counts: dict[RequestKey, int] = field(default_factory=dict)
    latencies: dict[RequestKey, _Latency] = field(default_factory=dict)

    def add(self, key: RequestKey, seconds: float | None, count: int = 1) -> None:
        """``count`` requests of one label set that each took ``seconds`` (None: no duration to observe)."""
        self.counts[key] = self.counts.get(key, 0) + count
        if seconds is None:
            return
        latency = self.latencies.get(key)
        if latency is None:
            latency = self.latencies[key] = _new_latency()
        latency.buckets[bisect_left(LATENCY_BUCKETS_S, seconds)] += count
        latency.total_s += seconds * count

    def __bool__(self) -> bool:
        return bool(self.counts)


class RequestMetrics(Collector):
    """``<prefix>_total`` (counter) and ``<prefix_duration>_seconds`` (histogram) over REQUEST_LABELS."""

    def __init__(self, *, counter: str, counter_help: str, histogram: str, histogram_help: str) -> None:
        self._counter = (counter, counter_help)
        self._histogram = (histogram, histogram_help)
        self._lock = threading.Lock()
        self._counts: dict[RequestKey, int] = {}
        self._latencies: dict[RequestKey, _Latency] = {}

    def merge(self, tally: RequestTally) -> None:
        if not tally:
            return
        with self._lock:
            for key, count in tally.counts.items():
                self._counts[key] = self._counts.get(key, 0) + count
            for key, batch in tally.latencies.items():
                latency = self._latencies.get(key)
                if latency is None:
                    latency = self._latencies[key] = _new_latency()
                for index, count in enumerate(batch.buckets):
                    latency.buckets[index] += count
                latency.total_s += batch.total_s

    def collect(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        with self._lock:
            counts = dict(self._counts)
            latencies = {key: _Latency(list(value.buckets), value.total_s) for key, value in self._latencies.items()}
        counter = CounterMetricFamily(self._counter[0], self._counter[1], labels=REQUEST_LABELS)
        for key, count in sorted(counts.items()):
            counter.add_metric(key, count)
        yield counter
        histogram = HistogramMetricFamily(self._histogram[0], self._histogram[1], labels=REQUEST_LABELS)
        bounds = [*(_bound(b) for b in LATENCY_BUCKETS_S), "+Inf"]
        for key, latency in sorted(latencies.items()):
            cumulative, running = [], 0
            for bound, count in zip(bounds, latency.buckets, strict=True):
                running += count
                cumulative.append((bound, running))
            histogram.add_metric(key, cumulative, latency.total_s)
        yield histogram


def _bound(value: float) -> str:
    return repr(float(value))


class LoopCollector(Collector):
    """Each loop's counters and consumer lag, read from its ``LoopMetrics`` at scrape time."""

    def __init__(self) -> None:
        self._loops: dict[str, LoopMetrics] = {}

    def add(self, name: str, metrics: LoopMetrics) -> None:
        self._loops[name] = metrics

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        counters = {
            "records": ("rdv_loop_records_total", "Records handed to the loop's step."),
            "batches": ("rdv_loop_batches_total", "Batches the loop's step processed."),
            "dead_lettered": ("rdv_loop_dead_lettered_total", "Records sent to the dead-letter topic."),
            "commit_failures": ("rdv_loop_commit_failures_total", "Offset commits that failed."),
            "busy_s": ("rdv_loop_busy_seconds_total", "Seconds the loop's step spent processing batches."),
        }
        loops = sorted(self._loops.items())
        for field_name, (name, documentation) in counters.items():
            family = CounterMetricFamily(name, documentation, labels=("loop",))
            for loop, metrics in loops:
                family.add_metric((loop,), float(getattr(metrics, field_name)))
            yield family
        lag = GaugeMetricFamily(
            "rdv_consumer_lag",
            "Records of the topic's assigned partitions not yet read by the loop (high watermark minus position), "
            "sampled every few seconds.",
            labels=("loop", "topic"),
        )
        for loop, metrics in loops:
            for topic, records in sorted(metrics.lag.items()):
                lag.add_metric((loop, topic), float(records))
        yield lag


class GaugeCallback(Collector):
    """One gauge family read from a function at scrape time: ``(labels, value)`` pairs."""

    def __init__(
        self, name: str, documentation: str, labels: Sequence[str],
        read: Callable[[], Iterable[tuple[Sequence[str], float]]],
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._labels = tuple(labels)
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self._name, self._documentation, labels=self._labels)
        for labels, value in self._read():
            family.add_metric(list(labels), value)
        yield family


def process_registry() -> CollectorRegistry:
    """A registry with the process's own series (``process_resident_memory_bytes``, CPU, open files)."""
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def serve_metrics(registry: CollectorRegistry, *, port: int, address: str) -> int:
    """Serve ``GET /metrics`` on a daemon thread (prometheus_client's HTTP server); returns the port."""
    server, _thread = start_http_server(port, addr=address, registry=registry)
    return int(server.server_port)
