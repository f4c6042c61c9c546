"""Which offsets may be committed: only those whose work is finished (result delivered).

Kafka commits one offset per partition, meaning "everything before this is done". Records finish out
of order (a fast request behind a slow one), so the committable offset is the lowest unfinished one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PartitionKey = tuple[str, int]


@dataclass(slots=True)
class _PartitionLedger:
    open_offsets: set[int] = field(default_factory=set)
    next_offset: int = -1
    committed: int = -1


class OffsetLedger:
    def __init__(self) -> None:
        self._partitions: dict[PartitionKey, _PartitionLedger] = {}

    def opened(self, topic: str, partition: int, offset: int) -> None:
        ledger = self._partitions.setdefault((topic, partition), _PartitionLedger())
        ledger.open_offsets.add(offset)
        ledger.next_offset = max(ledger.next_offset, offset + 1)

    def seen_done(self, topic: str, partition: int, offset: int) -> None:
        """A record that needed no further work (a late score, a poison record)."""
        ledger = self._partitions.setdefault((topic, partition), _PartitionLedger())
        ledger.next_offset = max(ledger.next_offset, offset + 1)

    def finished(self, topic: str, partition: int, offset: int) -> None:
        ledger = self._partitions.get((topic, partition))
        if ledger is not None:
            ledger.open_offsets.discard(offset)

    def committable(self) -> dict[PartitionKey, int]:
        """Offsets that moved since the last call; marks them committed."""
        moves: dict[PartitionKey, int] = {}
        for key, ledger in self._partitions.items():
            target = min(ledger.open_offsets) if ledger.open_offsets else ledger.next_offset
            if target > ledger.committed:
                moves[key] = target
                ledger.committed = target
        return moves

    def forget(self, partitions: list[PartitionKey]) -> None:
        for key in partitions:
            self._partitions.pop(key, None)
