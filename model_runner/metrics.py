"""The runner's Prometheus series (DESIGN.md §7, *extension (monitoring)*): per model version, the
requests it scored and how long its scoring calls took, by outcome; the versions it hosts; its loops'
counters and consumer lag; the process's memory. Off unless ``RDV_RUNNER_METRICS_PORT`` is set.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry

from contracts.messages import Score
from model_runner.hosting import HostedModels
from streaming.exporter import GaugeCallback, LoopCollector, RequestMetrics, RequestTally, process_registry


def scoring_metrics() -> RequestMetrics:
    return RequestMetrics(
        counter="rdv_requests_total",
        counter_help="Requests scored by a model version (outcome: ok or error), counted by the runner.",
        histogram="rdv_request_duration_seconds",
        histogram_help="How long the model version's scoring call took for each request it scored.",
    )


def tally_scores(tally: RequestTally, scores: Sequence[Score]) -> None:
    """One scoring call's scores: every score of a call reports the call's duration."""
    for score in scores:
        key = (score.tenant, score.service, score.model, str(score.version), score.role, score.status)
        tally.add(key, score.latency_ms / 1000.0)


def runner_registry(hosting: HostedModels, requests: RequestMetrics, loops: LoopCollector) -> CollectorRegistry:
    """Everything the runner's metrics port serves; ``loops`` gets each loop as it is made."""
    registry = process_registry()
    registry.register(requests)
    registry.register(loops)
    pool = hosting.pool

    def loaded() -> Iterator[tuple[Sequence[str], float]]:
        yield (pool,), float(sum(1 for v in hosting.versions() if v.model is not None))

    def by_state() -> Iterator[tuple[Sequence[str], float]]:
        counts: dict[str, int] = {"unloaded": 0, "loading": 0, "ready": 0, "failed": 0}
        for version in hosting.versions():
            counts[version.state] = counts.get(version.state, 0) + 1
        for state, count in sorted(counts.items()):
            yield (pool, state), float(count)

    def resident() -> Iterator[tuple[Sequence[str], float]]:
        yield (pool,), float(hosting.resident_bytes())

    registry.register(GaugeCallback("rdv_models_loaded", "Model versions loaded in this runner.", ("pool",), loaded))
    registry.register(GaugeCallback(
        "rdv_model_versions", "Model versions this runner hosts, by state.", ("pool", "state"), by_state
    ))
    registry.register(GaugeCallback(
        "rdv_models_resident_bytes", "Measured size of the loaded model versions.", ("pool",), resident
    ))
    return registry
