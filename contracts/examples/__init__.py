"""One example of every message type, as it travels on the wire; round-tripped by the tests."""

from __future__ import annotations

from pathlib import Path

from contracts.config import ServiceConfig
from contracts.messages import DeadLetter, Decision, DriftReport, Request, Result, Score

EXAMPLES_DIR = Path(__file__).parent
EXAMPLE_TYPES: dict[str, type] = {
    "request": Request,
    "score": Score,
    "result": Result,
    "decision": Decision,
    "service_config": ServiceConfig,
    "dead_letter": DeadLetter,
    "drift_report": DriftReport,
}


def example_bytes(name: str) -> bytes:
    return (EXAMPLES_DIR / f"{name}.json").read_bytes()
