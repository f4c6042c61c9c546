"""A record's offset is committed only once every score it owes has been handed to the producer."""

from __future__ import annotations

from contracts.kafka import TopicPartition
from model_runner.offsets import OffsetTracker

T = "rdv.acme.churn.requests"


def test_position_stops_at_the_oldest_record_still_owing_a_score() -> None:
    tracker = OffsetTracker()
    for offset in range(5):
        tracker.seen(T, 0, offset)
    tracker.hold(T, 0, 2)
    tracker.hold(T, 0, 2)

    assert tracker.committable() == [TopicPartition(T, 0, 2)]
    tracker.committed(tracker.committable())
    assert tracker.committable() == []

    tracker.release(T, 0, 2)
    assert tracker.committable() == []
    tracker.release(T, 0, 2)
    assert tracker.committable() == [TopicPartition(T, 0, 5)]


def test_forgotten_partitions_are_not_committed() -> None:
    tracker = OffsetTracker()
    tracker.seen(T, 0, 3)
    tracker.seen(T, 1, 9)

    tracker.forget([(T, 1)])

    assert tracker.committable() == [TopicPartition(T, 0, 4)]
