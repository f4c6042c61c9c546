"""Which offsets may be committed: the one tracker every loop uses.

Kafka commits one position per partition, meaning "everything before this is done". Records finish out
of order (a request waiting for a loading model while later ones are scored; a fast request decided
before a slow one), so a partition's committable position is its oldest record still held, or one past
the newest record seen when nothing is held.

A record is held while work that depends on it is outstanding: a step holds what it keeps for later
(a pending request), and the runtime holds every record named by a produce until the broker has
acknowledged that record. A hold may also be released *after another record is committed*: the
rendezvous's scores stay re-readable for as long as their request may be re-read.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import NamedTuple

from contracts.kafka import Record, TopicPartition


class PartitionRef(NamedTuple):
    topic: str
    partition: int


class RecordRef(NamedTuple):
    """Where one record was read: what a hold is taken on (a tuple: pure cores may keep it as one)."""

    topic: str
    partition: int
    offset: int

    @property
    def partition_ref(self) -> PartitionRef:
        return PartitionRef(self.topic, self.partition)


class OffsetTracker:
    def __init__(self) -> None:
        self._next: dict[PartitionRef, int] = {}
        self._holds: dict[PartitionRef, dict[int, int]] = {}
        self._committed: dict[PartitionRef, int] = {}
        # Holds released once another record is committable: (that record, the held one).
        self._waiting: list[tuple[RecordRef, RecordRef]] = []

    def seen(self, topic: str, partition: int, offset: int) -> None:
        key = (topic, partition)
        if offset + 1 > self._next.get(key, -1):  # type: ignore[call-overload]  # a plain tuple finds a PartitionRef
            self._next[PartitionRef(topic, partition)] = offset + 1

    def seen_all(self, records: Iterable[Record]) -> None:
        """``seen`` for each of a batch of records, in the order read (within a partition, offsets grow)."""
        newest: dict[tuple[str, int], int] = {}
        for record in records:
            newest[(record.topic, record.partition)] = record.offset
        for (topic, partition), offset in newest.items():
            self.seen(topic, partition, offset)

    def hold(self, ref: RecordRef, times: int = 1) -> None:
        # Keyed by PartitionRef; looked up by a plain (topic, partition) tuple, which is equal and hashes alike.
        holds = self._holds.get((ref[0], ref[1]))  # type: ignore[call-overload]
        if holds is None:
            holds = self._holds[PartitionRef(ref[0], ref[1])] = {}
        offset = ref[2]
        holds[offset] = holds.get(offset, 0) + times

    def release(self, ref: RecordRef) -> None:
        holds = self._holds.get((ref[0], ref[1]))  # type: ignore[call-overload]
        if not holds:
            return
        offset = ref[2]
        left = holds.get(offset)
        if left is None:
            return
        if left > 1:
            holds[offset] = left - 1
        else:
            del holds[offset]

    def release_after(self, ref: RecordRef, *, after: RecordRef) -> None:
        """Release one hold of ``ref`` once ``after`` is committable (its partition's position passed it)."""
        self._waiting.append((after, ref))

    def held(self, ref: RecordRef) -> int:
        return self._holds.get(ref.partition_ref, {}).get(ref.offset, 0)

    def position(self, key: PartitionRef) -> int | None:
        next_offset = self._next.get(key)
        if next_offset is None:
            return None
        holds = self._holds.get(key)
        return min(holds) if holds else next_offset

    def committable(self, only: Collection[PartitionRef] | None = None) -> list[TopicPartition]:
        """Positions that moved since the last commit (``only``: of these partitions)."""
        if self._waiting:
            self._release_waiting()
        out = []
        for key in self._next if only is None else only:
            position = self.position(key)
            if position is not None and position > self._committed.get(key, -1):
                out.append(TopicPartition(key.topic, key.partition, position))
        return out

    def positions(self) -> list[TopicPartition]:
        """Every known partition's committable position, moved or not (what an asynchronous commit,
        whose outcome is not awaited, sends: one that failed is then repaired by the next)."""
        if self._waiting:
            self._release_waiting()
        out = []
        for key in self._next:
            position = self.position(key)
            if position is not None:
                out.append(TopicPartition(key.topic, key.partition, position))
        return out

    def committed(self, offsets: Iterable[TopicPartition]) -> None:
        for tp in offsets:
            self._committed[PartitionRef(tp.topic, tp.partition)] = tp.offset

    def forget(self, partitions: Iterable[PartitionRef]) -> None:
        gone = set(partitions)
        for key in gone:
            self._next.pop(key, None)
            self._holds.pop(key, None)
            self._committed.pop(key, None)
        self._waiting = [
            (after, ref)
            for after, ref in self._waiting
            if after.partition_ref not in gone and ref.partition_ref not in gone
        ]

    def _release_waiting(self) -> None:
        # Releasing one hold may move a position that another waiting hold depends on: repeat. Within
        # a pass each partition's position is computed once: a release only ever moves one forward, so
        # a position read earlier in the pass is at worst too low, and the next pass catches up.
        while True:
            waiting: list[tuple[RecordRef, RecordRef]] = []
            positions: dict[tuple[str, int], int | None] = {}
            for after, ref in self._waiting:
                key = (after[0], after[1])
                if key in positions:
                    position = positions[key]
                else:
                    position = positions[key] = self.position(PartitionRef(*key))
                if position is not None and position > after[2]:
                    self.release(ref)
                else:
                    waiting.append((after, ref))
            released = len(waiting) < len(self._waiting)
            self._waiting = waiting
            if not released:
                return
