"""Issue 15's rule, kept: no process polls Kafka by hand. Only the adapter (``contracts/kafka``), the
runtime (``streaming/``) and its bounded reads call a consumer's ``poll``, ``poll_batch`` or ``consume``;
everything else is a processing step on a ``StreamLoop``. (Benchmarks keep their raw baseline pipeline
and load clients, and tests their own readers: both are outside the platform.)"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ("contracts", "controlplane", "model_runner", "rendezvous_worker", "rdvctl", "scripts", "streaming")
ALLOWED = ("contracts/kafka/", "streaming/")
CONSUMING = {"poll", "poll_batch", "consume"}


def _receiver(node: ast.expr) -> str:
    return ast.unparse(node).lower()


def consumer_polls(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in CONSUMING:
            continue
        receiver = _receiver(node.func.value)
        # A producer's poll serves delivery callbacks; a subprocess's poll is not Kafka.
        if node.func.attr == "poll" and ("producer" in receiver or "process" in receiver):
            continue
        found.append(f"{path.relative_to(root)}:{node.lineno} {ast.unparse(node)}")
    return found


def test_no_kafka_poll_loop_outside_the_runtime() -> None:
    offenders = [
        hit
        for package in PLATFORM
        for path in sorted((ROOT / package).rglob("*.py"))
        if not str(path.relative_to(ROOT)).startswith(ALLOWED)
        for hit in consumer_polls(path)
    ]
    assert offenders == []


def test_the_check_sees_a_hand_written_loop(tmp_path: Path) -> None:
    sample = tmp_path / "loop.py"
    sample.write_text(
        "def loop(consumer, producer):\n    producer.poll(0)\n    while True:\n        record = consumer.poll(0.1)\n"
    )
    assert consumer_polls(sample, tmp_path) == ["loop.py:4 consumer.poll(0.1)"]
