"""A loop's health, and the health file a liveness probe reads: alive only while every loop is."""

from __future__ import annotations

import json
from pathlib import Path

from streaming.health import HealthFile, LoopHealth


def test_a_loop_is_alive_while_it_turns_and_not_after_a_failure() -> None:
    health = LoopHealth("scoring")
    assert not health.alive()  # not started
    health.started()
    health.turned()
    assert health.alive()
    health.failed("FollowerFailed: the config is no longer followed")
    report = health.report()
    assert report["alive"] is False and "FollowerFailed" in str(report["failure"])


def test_a_stuck_loop_is_not_alive() -> None:
    health = LoopHealth("scoring")
    health.started()
    health.turned()
    assert health.alive(stall_s=30.0)
    assert not health.alive(stall_s=0.0)


def test_the_health_file_says_alive_only_while_every_loop_is(tmp_path: Path) -> None:
    path = tmp_path / "health.json"
    scoring, decoy = LoopHealth("scoring"), LoopHealth("decoy")
    for loop in (scoring, decoy):
        loop.started()
        loop.turned()
    health_file = HealthFile(path, identity={"runner": "r1", "pool": "default"}, interval_s=0.0)
    health_file.add_loop("scoring", scoring.report)
    health_file.add_loop("decoy", decoy.report)
    health_file.add("config", lambda: {"ready": True, "failure": None})
    health_file.tick()
    status = json.loads(path.read_text())
    assert status["alive"] is True and status["runner"] == "r1" and status["config"]["ready"] is True
    assert set(status["loops"]) == {"scoring", "decoy"}

    decoy.failed("DeliveryFailed: archive not delivered")
    health_file.tick()
    status = json.loads(path.read_text())
    assert status["alive"] is False and status["loops"]["decoy"]["failure"].startswith("DeliveryFailed")
