"""Which offsets may be committed: only those whose every score has been handed to the producer.

Records are finished out of order (a request waiting for a loading version holds its offset while
later ones are scored), so the committable position of a partition is its oldest unfinished record,
or one past the newest record seen when nothing is unfinished.
"""

from __future__ import annotations

from collections.abc import Iterable

from contracts.kafka import TopicPartition

PartitionKey = tuple[str, int]


class OffsetTracker:
    def __init__(self) -> None:
        self._next: dict[PartitionKey, int] = {}
        self._open: dict[PartitionKey, dict[int, int]] = {}
        self._committed: dict[PartitionKey, int] = {}

    def seen(self, topic: str, partition: int, offset: int) -> None:
        key = (topic, partition)
        if offset + 1 > self._next.get(key, -1):
            self._next[key] = offset + 1

    def hold(self, topic: str, partition: int, offset: int) -> None:
        """One more score of this record is outstanding."""
        holds = self._open.setdefault((topic, partition), {})
        holds[offset] = holds.get(offset, 0) + 1

    def release(self, topic: str, partition: int, offset: int) -> None:
        holds = self._open.get((topic, partition))
        if not holds or offset not in holds:
            return
        holds[offset] -= 1
        if holds[offset] <= 0:
            del holds[offset]

    def committable(self) -> list[TopicPartition]:
        """Positions that moved since the last commit."""
        out = []
        for key, next_offset in self._next.items():
            holds = self._open.get(key)
            position = min(holds) if holds else next_offset
            if self._committed.get(key) != position:
                out.append(TopicPartition(key[0], key[1], position))
        return out

    def committed(self, offsets: Iterable[TopicPartition]) -> None:
        for tp in offsets:
            self._committed[(tp.topic, tp.partition)] = tp.offset

    def forget(self, partitions: Iterable[PartitionKey]) -> None:
        for key in partitions:
            self._next.pop(key, None)
            self._open.pop(key, None)
            self._committed.pop(key, None)
