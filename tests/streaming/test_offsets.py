"""The one offset tracker: a partition's committable position is its oldest held record, or one past
the newest record seen; a hold may wait for another record to be committable."""

from __future__ import annotations

from contracts.kafka import Record, TopicPartition
from streaming.offsets import OffsetTracker, PartitionRef, RecordRef

REQ = RecordRef("rdv.t.s.requests", 0, 0)


def _positions(tracker: OffsetTracker) -> dict[tuple[str, int], int]:
    return {(tp.topic, tp.partition): tp.offset for tp in tracker.committable()}


def test_position_is_one_past_the_newest_record_when_nothing_is_held() -> None:
    tracker = OffsetTracker()
    for offset in range(5):
        tracker.seen("a", 0, offset)
    assert _positions(tracker) == {("a", 0): 5}


def test_a_held_record_stops_its_partition_only() -> None:
    tracker = OffsetTracker()
    for offset in range(5):
        tracker.seen("a", 0, offset)
        tracker.seen("a", 1, offset)
    tracker.hold(RecordRef("a", 0, 2))
    assert _positions(tracker) == {("a", 0): 2, ("a", 1): 5}
    tracker.release(RecordRef("a", 0, 2))
    assert _positions(tracker) == {("a", 0): 5, ("a", 1): 5}


def test_holds_are_counted() -> None:
    tracker = OffsetTracker()
    tracker.seen("a", 0, 0)
    ref = RecordRef("a", 0, 0)
    tracker.hold(ref)
    tracker.hold(ref)
    tracker.release(ref)
    assert _positions(tracker) == {("a", 0): 0}
    tracker.release(ref)
    assert _positions(tracker) == {("a", 0): 1}


def test_only_moved_positions_are_committable_again() -> None:
    tracker = OffsetTracker()
    tracker.seen("a", 0, 0)
    offsets = tracker.committable()
    tracker.committed(offsets)
    assert tracker.committable() == []
    tracker.seen("a", 0, 1)
    assert tracker.committable() == [TopicPartition("a", 0, 2)]


def test_release_after_waits_for_the_other_record() -> None:
    tracker = OffsetTracker()
    score = RecordRef("rdv.t.s.scores", 0, 7)
    tracker.seen(REQ.topic, REQ.partition, REQ.offset)
    tracker.seen(score.topic, score.partition, score.offset)
    tracker.hold(REQ)
    tracker.hold(score)
    tracker.release_after(score, after=REQ)
    assert _positions(tracker) == {(REQ.topic, 0): 0, (score.topic, 0): 7}
    tracker.release(REQ)
    # The request is committable now, so its score moves in the same commit.
    assert _positions(tracker) == {(REQ.topic, 0): 1, (score.topic, 0): 8}


def test_forget_drops_partitions_and_their_waiting_holds() -> None:
    tracker = OffsetTracker()
    score = RecordRef("s", 0, 0)
    tracker.seen("s", 0, 0)
    tracker.hold(score)
    tracker.release_after(score, after=REQ)
    tracker.forget([PartitionRef("s", 0), PartitionRef(REQ.topic, 0)])
    assert tracker.committable() == []
    tracker.seen("s", 0, 3)
    assert _positions(tracker) == {("s", 0): 4}


def test_committable_of_some_partitions_only() -> None:
    tracker = OffsetTracker()
    tracker.seen("a", 0, 0)
    tracker.seen("a", 1, 0)
    assert tracker.committable([PartitionRef("a", 1)]) == [TopicPartition("a", 1, 1)]


def test_a_hold_may_be_taken_several_times_at_once() -> None:
    tracker = OffsetTracker()
    tracker.seen("a", 0, 0)
    ref = RecordRef("a", 0, 0)
    tracker.hold(ref, 3)  # e.g. a ScoreBatch record, held once per score it carries
    for _ in range(2):
        tracker.release(ref)
        assert _positions(tracker) == {("a", 0): 0}
    tracker.release(ref)
    assert _positions(tracker) == {("a", 0): 1}


def test_seen_all_takes_each_partitions_newest_record_of_a_batch() -> None:
    tracker = OffsetTracker()
    batch = [Record(topic, partition, offset, None, b"", 0)
             for topic, partition, offset in [("a", 0, 3), ("a", 1, 9), ("a", 0, 4), ("b", 0, 0)]]
    tracker.seen_all(batch)
    assert _positions(tracker) == {("a", 0): 5, ("a", 1): 10, ("b", 0): 1}


def test_waiting_holds_chained_across_partitions_are_released_in_one_commit() -> None:
    # score1 waits for REQ; REQ2 (another partition) waits for score1: one committable() releases both.
    tracker = OffsetTracker()
    req2 = RecordRef("rdv.t.s.requests", 1, 4)
    score1 = RecordRef("rdv.t.s.scores", 0, 7)
    for ref in (REQ, req2, score1):
        tracker.seen(ref.topic, ref.partition, ref.offset)
        tracker.hold(ref)
    tracker.release_after(score1, after=REQ)
    tracker.release_after(req2, after=score1)
    tracker.release(REQ)
    assert _positions(tracker) == {(REQ.topic, 0): 1, (REQ.topic, 1): 5, (score1.topic, 0): 8}
