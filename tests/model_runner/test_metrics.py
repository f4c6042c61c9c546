"""The runner's Prometheus series: what each model version scored, by outcome, with its scoring call's
duration; the versions it has loaded; its loops' lag."""

from __future__ import annotations

from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from contracts.config import DeploymentSpec
from contracts.provenance import RepliesPartitions
from contracts.topics import DLQ_TOPIC
from model_runner.hosting import HostedModels
from model_runner.loading import LoadedModel, Prediction
from model_runner.loop import ScoringStep
from model_runner.metrics import runner_registry, scoring_metrics
from streaming import LoopSettings, StreamLoop
from streaming.exporter import LoopCollector
from tests.model_runner.test_loop import (
    _STOP,
    SETTINGS,
    Echo,
    FakeAdmin,
    FakeConsumer,
    FakeFollower,
    FakeProducer,
    _config,
    _record,
    _request,
    _run_until,
)


class Broken(LoadedModel):
    def __init__(self) -> None:
        pass

    def predict_batch(self, rows: Any) -> list[Prediction]:
        raise RuntimeError("boom")

    def _predict(self, matrix: Any) -> list[dict[str, Any]]:
        raise NotImplementedError


def scrape(registry: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    families = text_string_to_metric_families(generate_latest(registry).decode())
    return {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}


def labels(model: str, outcome: str) -> frozenset[tuple[str, str]]:
    return frozenset({"tenant": "acme", "service": "churn", "model": model, "version": "1", "role": "champion",
                      "outcome": outcome}.items())


def test_each_version_counts_what_it_scored_by_outcome_and_the_loaded_versions_show() -> None:
    models: dict[str, LoadedModel] = {"a": Echo(), "b": Broken()}

    def loader(spec: DeploymentSpec) -> LoadedModel:
        return models[spec.model]

    hosting = HostedModels("default", loader)
    admin = FakeAdmin()
    requests = scoring_metrics()
    step = ScoringStep(SETTINGS, hosting=hosting, replies=RepliesPartitions(admin.partition_count), requests=requests)
    consumer, producer, follower = FakeConsumer(), FakeProducer(), FakeFollower()
    loop = StreamLoop(step, consumer=consumer, producer=producer, admin=admin, config=follower,  # type: ignore[arg-type]
                      settings=LoopSettings(max_batch=64, commit_interval_s=3600))
    loops = LoopCollector()
    loops.add(loop.name, loop.metrics)
    registry = runner_registry(hosting, requests, loops)

    follower.publish(_config("churn", "a", "b"))
    loop._turn(_STOP)
    consumer.records.extend(_record("churn", i, 0, _request("churn", f"r{i}", float(i))) for i in range(5))
    _run_until(loop, lambda: len([s for s in producer.sent if s[0] != DLQ_TOPIC]) >= 2)

    got = scrape(registry)
    assert got[("rdv_requests_total", labels("a", "ok"))] == 5
    assert got[("rdv_requests_total", labels("b", "error"))] == 5
    assert got[("rdv_request_duration_seconds_count", labels("a", "ok"))] == 5
    assert ("rdv_requests_total", labels("a", "error")) not in got
    assert got[("rdv_models_loaded", frozenset({"pool": "default"}.items()))] == 2
    assert got[("rdv_model_versions", frozenset({"pool": "default", "state": "ready"}.items()))] == 2
    assert got[("rdv_loop_records_total", frozenset({"loop": "scoring"}.items()))] == 5
    assert got[("process_resident_memory_bytes", frozenset())] > 0


def test_without_metrics_the_step_tallies_nothing() -> None:
    admin = FakeAdmin()
    step = ScoringStep(SETTINGS, hosting=HostedModels("default", lambda spec: Echo()),
                       replies=RepliesPartitions(admin.partition_count))
    assert step._requests is None
