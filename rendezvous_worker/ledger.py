"""Which offsets may be committed: only those whose work is finished (result delivered).

Kafka commits one offset per partition, meaning "everything before this is done". Records finish out
of order (a fast request behind a slow one), so the committable offset is the lowest unfinished one.

A scores record (a ScoreBatch) carries the scores of many requests: it is opened once per score and
done once every one of them is (a count per offset), so no request's score is committed before it.

A score is only done once its request is committed too. Requests and scores are separate partitions,
committed separately: a score committed while its request is not would be missing when another
instance re-reads the request after a crash, and that instance would decide differently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PartitionKey = tuple[str, int]
RecordRef = tuple[str, int, int]  # topic, partition, offset


@dataclass(slots=True)
class _PartitionLedger:
    # Offset -> how many pieces of work (a request, or each score of a batch) are still unfinished.
    open_offsets: dict[int, int] = field(default_factory=dict)
    next_offset: int = -1
    committed: int = -1


class OffsetLedger:
    def __init__(self) -> None:
        self._partitions: dict[PartitionKey, _PartitionLedger] = {}
        # Records that finish once another record is committed: (that record, this record).
        self._waiting: list[tuple[RecordRef, RecordRef]] = []

    def opened(self, topic: str, partition: int, offset: int, count: int = 1) -> None:
        """A record with ``count`` pieces of work, each finished by its own ``finished`` call."""
        ledger = self._partitions.setdefault((topic, partition), _PartitionLedger())
        ledger.open_offsets[offset] = ledger.open_offsets.get(offset, 0) + count
        ledger.next_offset = max(ledger.next_offset, offset + 1)

    def seen_done(self, topic: str, partition: int, offset: int) -> None:
        """A record that needed no further work (a late score, a poison record)."""
        ledger = self._partitions.setdefault((topic, partition), _PartitionLedger())
        ledger.next_offset = max(ledger.next_offset, offset + 1)

    def finished(self, topic: str, partition: int, offset: int) -> None:
        ledger = self._partitions.get((topic, partition))
        if ledger is not None:
            left = ledger.open_offsets.get(offset, 0) - 1
            if left > 0:
                ledger.open_offsets[offset] = left
            else:
                ledger.open_offsets.pop(offset, None)

    def finished_after(self, topic: str, partition: int, offset: int, *, after: RecordRef) -> None:
        """Finished, but committable only once ``after`` (the score's request) has been committed."""
        self._waiting.append((after, (topic, partition, offset)))

    def committable(self) -> dict[PartitionKey, int]:
        """Offsets that moved since the last call; marks them committed."""
        moves = self._moves()
        if self._release_waiting():
            # Scores whose requests move now may move in the same commit.
            moves |= self._moves()
        return moves

    def _moves(self) -> dict[PartitionKey, int]:
        moves: dict[PartitionKey, int] = {}
        for key, ledger in self._partitions.items():
            target = min(ledger.open_offsets) if ledger.open_offsets else ledger.next_offset
            if target > ledger.committed:
                moves[key] = target
                ledger.committed = target
        return moves

    def _release_waiting(self) -> bool:
        waiting: list[tuple[RecordRef, RecordRef]] = []
        for after, ref in self._waiting:
            ledger = self._partitions.get((after[0], after[1]))
            if ledger is not None and after[2] < ledger.committed:
                self.finished(*ref)
            elif ledger is not None:
                waiting.append((after, ref))
        released = len(waiting) < len(self._waiting)
        self._waiting = waiting
        return released

    def forget(self, partitions: list[PartitionKey]) -> None:
        for key in partitions:
            self._partitions.pop(key, None)
        gone = set(partitions)
        self._waiting = [
            (after, ref)
            for after, ref in self._waiting
            if (after[0], after[1]) not in gone and (ref[0], ref[1]) not in gone
        ]
