"""A bounded read: the records of given offset ranges, then stop (an export of a time range, a replay).

The other side of ``StreamLoop``: no group, nothing committed, no step; the caller iterates the records.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping

from contracts.kafka import Consumer, Record, TopicPartition


class ReadStalled(RuntimeError):
    """No record arrived for too long while some partitions had not reached the end of their range."""

    def __init__(self, missing: str) -> None:
        super().__init__(f"the read stalled before the end of its range ({missing})")
        self.missing = missing


def read_ranges(
    consumer: Consumer,
    topic: str,
    ranges: Mapping[int, tuple[int, int]],
    *,
    idle_timeout: float = 30.0,
    max_batch: int = 500,
    wait_s: float = 0.5,
) -> Iterator[Record]:
    """Each record of ``topic`` at offsets [start, end) of each partition, in the order read; returns
    when every partition reached its end. Raises ``ReadStalled`` after ``idle_timeout`` s without one."""
    wanted = {partition: bounds for partition, bounds in ranges.items() if bounds[1] > bounds[0]}
    if not wanted:
        return
    consumer.assign([TopicPartition(topic, partition, start) for partition, (start, _) in wanted.items()])
    last_progress = time.monotonic()
    while wanted:
        records = consumer.poll_batch(max_batch, wait_s)
        if not records:
            # Offsets past the last record (transaction markers) are never delivered: ask the position.
            for partition in [p for p, (_, end) in wanted.items() if consumer.position(topic, p) >= end]:
                del wanted[partition]
            if wanted and time.monotonic() - last_progress > idle_timeout:
                raise ReadStalled(
                    ", ".join(f"{p}@{consumer.position(topic, p)}<{end}" for p, (_, end) in wanted.items())
                )
            continue
        last_progress = time.monotonic()
        for record in records:
            bounds = wanted.get(record.partition)
            if bounds is None or record.topic != topic:
                continue  # a partition already done (records fetched before it was finished)
            end = bounds[1]
            if record.offset >= end:
                del wanted[record.partition]
                continue
            if record.offset + 1 >= end:
                del wanted[record.partition]
            yield record
