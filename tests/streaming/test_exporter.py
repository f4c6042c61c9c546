"""The workers' Prometheus exposition: per-batch tallies become counters and histograms with the labels
DESIGN.md §7 names, loop counters and lag are read at scrape time, and the port serves them."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streaming.exporter import (
    LATENCY_BUCKETS_S,
    GaugeCallback,
    LoopCollector,
    RequestMetrics,
    RequestTally,
    process_registry,
    serve_metrics,
)
from streaming.metrics import LoopMetrics
from tests.e2e.stack import free_port

KEY = ("acme", "churn", "gbm", "3", "champion", "ok")


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def requests_metrics() -> RequestMetrics:
    return RequestMetrics(counter="rdv_requests_total", counter_help="requests",
                          histogram="rdv_request_duration_seconds", histogram_help="latency")


def labels(**extra: str) -> tuple[tuple[str, str], ...]:
    names = ("tenant", "service", "model", "version", "role", "outcome")
    return tuple(sorted({**dict(zip(names, KEY, strict=True)), **extra}.items()))


def test_batches_merge_into_one_counter_and_a_cumulative_histogram() -> None:
    metrics = requests_metrics()
    first = RequestTally()
    first.add(KEY, 0.003, count=4)  # a micro-batch of four, one call of 3 ms
    first.add(KEY, 0.2)
    metrics.merge(first)
    second = RequestTally()
    second.add(KEY, 20.0)  # past the last bound: only +Inf
    second.add(KEY[:5] + ("error",), None)  # counted, no duration
    metrics.merge(second)
    registry = CollectorRegistry()
    registry.register(metrics)
    got = samples(registry)
    assert got[("rdv_requests_total", labels())] == 6
    assert got[("rdv_requests_total", labels(outcome="error"))] == 1
    assert got[("rdv_request_duration_seconds_count", labels())] == 6
    assert abs(got[("rdv_request_duration_seconds_sum", labels())] - (0.012 + 0.2 + 20.0)) < 1e-9
    bucket = "rdv_request_duration_seconds_bucket"
    assert got[(bucket, labels(le="0.001"))] == 0
    assert got[(bucket, labels(le="0.005"))] == 4
    assert got[(bucket, labels(le="0.25"))] == 5
    assert got[(bucket, labels(le="10.0"))] == 5
    assert got[(bucket, labels(le="+Inf"))] == 6
    assert ("rdv_request_duration_seconds_count", labels(outcome="error")) not in got


def test_a_value_on_a_bound_falls_in_that_bucket() -> None:
    metrics = requests_metrics()
    tally = RequestTally()
    tally.add(KEY, LATENCY_BUCKETS_S[3])
    metrics.merge(tally)
    registry = CollectorRegistry()
    registry.register(metrics)
    got = samples(registry)
    assert got[("rdv_request_duration_seconds_bucket", labels(le=repr(LATENCY_BUCKETS_S[3])))] == 1
    assert got[("rdv_request_duration_seconds_bucket", labels(le=repr(LATENCY_BUCKETS_S[2])))] == 0


def test_loop_counters_and_lag_are_read_when_scraped() -> None:
    loop = LoopMetrics()
    collector = LoopCollector()
    collector.add("scoring", loop)
    registry = CollectorRegistry()
    registry.register(collector)
    loop.batch("scoring", 7, 0.5)
    loop.lag = {"rdv.acme.churn.requests": 42}
    got = samples(registry)
    assert got[("rdv_loop_records_total", (("loop", "scoring"),))] == 7
    assert got[("rdv_loop_busy_seconds_total", (("loop", "scoring"),))] == 0.5
    assert got[("rdv_consumer_lag", (("loop", "scoring"), ("topic", "rdv.acme.churn.requests")))] == 42
    loop.lag = {}
    assert not any(name == "rdv_consumer_lag" for name, _ in samples(registry))


def test_the_port_serves_the_process_memory_and_every_collector() -> None:
    registry = process_registry()
    registry.register(GaugeCallback("rdv_models_loaded", "loaded", ("pool",), lambda: [(("default",), 3.0)]))
    port = serve_metrics(registry, port=free_port(), address="127.0.0.1")
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert response.status_code == 200
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for f in text_string_to_metric_families(response.text) for s in f.samples}
    assert got[("rdv_models_loaded", (("pool", "default"),))] == 3
    assert got[("process_resident_memory_bytes", ())] > 10 * 2**20
