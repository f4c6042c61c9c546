"""One example of every message type, as it travels on the wire; round-tripped by the tests."""

from __future__ import annotations

from pathlib import Path

from contracts.config import ServiceConfig
from contracts.messages import (
    DeadLetter,
    Decision,
    DecisionBatch,
    DriftReport,
    Request,
    Result,
    Score,
    ScoreBatch,
    WorkerStatus,
)

EXAMPLES_DIR = Path(__file__).parent
EXAMPLE_TYPES: dict[str, type] = {
    "request": Request,
    "score": Score,
    # What runners write to a scores topic (changed (runtime)); a single Score is still read.
    "score_batch": ScoreBatch,
    "result": Result,
    "decision": Decision,
    # What rendezvous workers write to a decisions topic (changed (runtime)); a single Decision is still read.
    "decision_batch": DecisionBatch,
    "service_config": ServiceConfig,
    "dead_letter": DeadLetter,
    "drift_report": DriftReport,
    "worker_status": WorkerStatus,
}


def example_bytes(name: str) -> bytes:
    return (EXAMPLES_DIR / f"{name}.json").read_bytes()
