"""What a processing step is: the pure part of a loop, composed on the runtime (``streaming.runtime``).

The runtime polls, drains, tracks offsets, commits, follows the config and stops; a step only says
which topics it reads and what to do with a batch of records, through the ``StepIO`` it is handed.
Every hook has a do-nothing default, so a step overrides only what it needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from contracts.config import ServiceConfig
from contracts.kafka import Record, TopicPartition, TopicSpec
from contracts.keys import ServiceKey
from streaming.io import StepIO


class Step:
    #: Names the loop in logs, metrics and health.
    name: str = "step"

    def wanted_topics(self, services: Mapping[ServiceKey, ServiceConfig]) -> Sequence[TopicSpec]:
        """The topics to read for this config (followed loops only); each is created when missing.

        The subscription only grows: every change is a group rebalance that stalls all of its
        partitions, while a routing change must take effect at once. A step acknowledges unhandled
        the records of topics it no longer wants."""
        return ()

    def output_topics(self, services: Mapping[ServiceKey, ServiceConfig]) -> Sequence[TopicSpec]:
        """Topics this step writes for this config (followed loops only): each is created when missing,
        before the step may write to it; never read."""
        return ()

    def configure(self, services: Mapping[ServiceKey, ServiceConfig], io: StepIO) -> None:
        """A new config generation is live (called first; ``wanted_topics`` is asked next)."""

    def process(self, records: Sequence[Record], io: StepIO) -> None:
        """One batch of records, in the order read. Anything not held by then counts as done."""

    def tick(self, now: float, io: StepIO) -> None:
        """Every turn of the loop, records or not (timers, pending work); ``now`` is wall time."""

    def next_wakeup(self) -> float | None:
        """The wall time at which ``tick`` has work to do, so the poll does not wait past it."""
        return None

    def assigned(self, partitions: list[TopicPartition], io: StepIO) -> None:
        """Partitions this member now owns."""

    def revoking(self, partitions: list[TopicPartition], io: StepIO) -> None:
        """Partitions about to go to another member: finish or drop their work; the runtime then
        waits for deliveries, commits their positions and forgets them."""

    def stopping(self, io: StepIO) -> None:
        """The loop stops: last chance to produce; the runtime then flushes and commits."""

    def health(self) -> Mapping[str, object]:
        """Step-specific figures for the health report (pending work, …)."""
        return {}
