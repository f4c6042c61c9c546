"""commit_positions: the offsets a handled batch commits, one per partition, past its last record."""

from __future__ import annotations

from contracts.kafka import Record, TopicPartition
from controlplane.kafka import commit_positions


def _record(topic: str, partition: int, offset: int) -> Record:
    return Record(topic=topic, partition=partition, offset=offset, key=None, value=b"", timestamp_ms=0)


def test_commit_positions_are_one_past_the_highest_offset_of_each_partition() -> None:
    batch = [_record("a", 0, 5), _record("a", 1, 2), _record("a", 0, 7), _record("b", 0, 3), _record("a", 0, 6)]

    assert sorted(commit_positions(batch), key=lambda tp: (tp.topic, tp.partition)) == [
        TopicPartition("a", 0, 8), TopicPartition("a", 1, 3), TopicPartition("b", 0, 4),
    ]


def test_an_empty_batch_commits_nothing() -> None:
    assert commit_positions([]) == []
