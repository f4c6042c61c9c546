"""The rendezvous' Prometheus tallies: each request once, by the deployment that answered it; each
candidate by what became of its score."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from contracts.messages import Candidate, Decision
from rendezvous_worker.metrics import RendezvousMetrics
from streaming.exporter import LoopCollector


def decision(**fields: object) -> Decision:
    base: dict[str, object] = {
        "request_id": "r1", "tenant": "acme", "service": "churn", "status": "ok", "model": "gbm", "version": 2,
        "reason": "champion", "latency_ms": 12.0, "config_revision": 3,
        "candidates": [
            Candidate(model="gbm", version=2, role="champion", status="ok", latency_ms=4.0),
            Candidate(model="gbm", version=3, role="challenger", status="ok", latency_ms=9.0),
            Candidate(model="lr", version=1, role="fallback", status="error", error="boom", latency_ms=1.0),
            Candidate(model="nn", version=1, role="canary", status="missing"),
            Candidate(model="xgb", version=5, role="challenger", status="ok", latency_ms=900.0, late=True),
        ],
    }
    return Decision(**{**base, **fields})  # type: ignore[arg-type]


def scrape(metrics: RendezvousMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    registry: CollectorRegistry = metrics.registry(LoopCollector())
    families = text_string_to_metric_families(generate_latest(registry).decode())
    return {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset({"tenant": "acme", "service": "churn", **labels}.items())


def test_each_request_counts_once_by_the_version_that_answered_and_each_candidate_by_its_fate() -> None:
    metrics = RendezvousMetrics()
    metrics.decided([decision(), decision(request_id="r2", latency_ms=30.0)])
    got = scrape(metrics)
    answered = {"model": "gbm", "version": "2", "role": "champion", "outcome": "ok"}
    assert got[key("rdv_requests_total", **answered)] == 2
    assert got[key("rdv_request_duration_seconds_count", **answered)] == 2
    assert abs(got[key("rdv_request_duration_seconds_sum", **answered)] - 0.042) < 1e-9
    fates = {
        ("gbm", "2", "champion"): "won",
        ("gbm", "3", "challenger"): "ok",
        ("lr", "1", "fallback"): "error",
        ("nn", "1", "canary"): "missing",
        ("xgb", "5", "challenger"): "late",
    }
    for (model, version, role), outcome in fates.items():
        labels = {"model": model, "version": version, "role": role, "outcome": outcome}
        assert got[key("rdv_candidates_total", **labels)] == 2, (model, outcome)
    # A missing score has no latency to observe.
    assert key("rdv_candidate_duration_seconds_count", model="nn", version="1", role="canary",
               outcome="missing") not in got


def test_a_request_nobody_answered_has_empty_model_labels() -> None:
    metrics = RendezvousMetrics()
    timed_out = decision(
        status="timeout", model=None, version=None, reason="timeout", latency_ms=800.0,
        candidates=[Candidate(model="gbm", version=2, role="champion", status="missing")],
    )
    metrics.decided([timed_out])
    got = scrape(metrics)
    assert got[key("rdv_requests_total", model="", version="", role="", outcome="timeout")] == 1
    assert got[key("rdv_candidates_total", model="gbm", version="2", role="champion", outcome="missing")] == 1
