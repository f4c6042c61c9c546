"""One predict call per version and batch; a failing model or row never takes the others down."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from contracts.codec import decode_scores
from contracts.config import DeploymentSpec
from contracts.messages import Request
from model_runner import scoring
from model_runner.loading import LoadedModel, Prediction, RowError
from model_runner.scoring import Inbound, PendingScores, error_scores, score_version, scores_records, split_expired
from tests.model_runner.factories import SavedModel

SPEC = DeploymentSpec(
    model="m", version=3, role="challenger", format="skops", sha256="0" * 64, artifact_url="file:///x"
)


def _item(request_id: str, partition: int = 2, deadline_ms: int = 1000, **inputs: Any) -> Inbound:
    request = Request(
        request_id=request_id,
        tenant="acme",
        service="churn",
        sent_at=time.time(),
        deadline_ms=deadline_ms,
        config_revision=1,
        inputs=inputs,
        external_state={"hour": 13},
    )
    return Inbound(request=request, partition=partition, offset=7, topic="rdv.acme.churn.requests")


class _Recording(LoadedModel):
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[int] = []
        self.fail = fail

    def predict_batch(self, rows: Sequence[Mapping[str, Any]]) -> list[Prediction]:
        self.calls.append(len(rows))
        if self.fail:
            raise ValueError("boom")
        return [
            {"value": row["x"] + row["hour"]} if "x" in row else RowError("missing feature 'x'")
            for row in rows
        ]

    def _predict(self, matrix: Any) -> list[dict[str, Any]]:
        raise NotImplementedError


def test_a_batch_is_one_call_and_every_score_carries_its_time() -> None:
    model = _Recording()
    scores = score_version([_item("a", x=1), _item("b", x=2), _item("c")], SPEC, model, runner_id="r1")

    assert model.calls == [3]
    assert [(s.request_id, s.status, s.output) for s in scores] == [
        ("a", "ok", {"value": 14}),
        ("b", "ok", {"value": 15}),
        ("c", "error", None),
    ]
    assert scores[2].error == "missing feature 'x'"
    assert len({s.latency_ms for s in scores}) == 1
    assert {(s.role, s.version, s.runner, s.tenant, s.service) for s in scores} == {
        ("challenger", 3, "r1", "acme", "churn")
    }


def test_a_raising_model_yields_error_scores_for_its_batch() -> None:
    scores = score_version([_item("a", x=1), _item("b", x=2)], SPEC, _Recording(fail=True), runner_id="r1")

    assert [(s.status, s.error) for s in scores] == [("error", "ValueError: boom")] * 2


def test_real_model_scores_equal_its_own_predictions(iris_classifier: SavedModel) -> None:
    from model_runner.loading import load_model

    model = load_model(iris_classifier.spec("skops"), iris_classifier.path)
    items = [_item(str(i), **row) for i, row in enumerate(iris_classifier.rows(20))]

    scores = score_version(items, SPEC, model, runner_id="r1")

    assert [s.output["label"] for s in scores] == iris_classifier.estimator.predict(
        iris_classifier.X[:20]
    ).tolist()


def test_pending_requests_split_at_their_deadline_and_revoked_partitions_are_dropped() -> None:
    pending = PendingScores()
    fresh, stale = _item("fresh", partition=0), _item("stale", partition=1, deadline_ms=0)
    pending.add(("acme", "churn"), SPEC, fresh)
    pending.add(("acme", "churn"), SPEC, stale)

    live, expired = split_expired([fresh, stale], time.time())
    dropped = pending.drop_partitions({("rdv.acme.churn.requests", 1)})

    assert (live, expired, dropped) == ([fresh], [stale], [stale])
    assert len(pending) == 1


def test_a_calls_scores_leave_as_one_record_per_partition_on_the_same_partition_numbers() -> None:
    """DESIGN.md §3 (*changed (runtime)*): one ScoreBatch per (version, partition) per micro-batch."""
    items = [_item("a", partition=2), _item("b", partition=0), _item("c", partition=2)]
    scores = score_version(items, SPEC, _Recording(), runner_id="runner-1")
    records = scores_records(items, scores)
    assert [(r.topic, r.partition, r.count) for r in records] == [
        ("rdv.acme.churn.scores", 2, 2), ("rdv.acme.churn.scores", 0, 1)
    ]
    assert [s for r in records for s in decode_scores(r.value)] == [scores[0], scores[2], scores[1]]


def test_a_batch_too_big_for_one_record_is_split_and_loses_nothing(monkeypatch) -> None:
    items = [_item(f"r{i}", partition=1) for i in range(9)]
    scores = error_scores(items, SPEC, "x" * 400, runner_id="runner-1")
    monkeypatch.setattr(scoring, "MAX_SCORES_RECORD_BYTES", 1500)
    records = scores_records(items, scores)
    assert len(records) > 1 and all(len(r.value) <= 1500 for r in records)
    assert [s for r in records for s in decode_scores(r.value)] == scores
