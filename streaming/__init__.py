"""One streaming runtime under every Kafka loop of the platform (Django-free).

A process composes a processing ``Step`` (its pure core plus what it produces) on a ``StreamLoop``,
which owns the subscription (following the config), poll-and-drain in batches, dead letters, the one
offset tracker, commits, graceful stop, health and per-loop metrics. See docs/DESIGN.md §3.
"""

from streaming.io import StepIO, ref_of
from streaming.offsets import OffsetTracker, PartitionRef, RecordRef
from streaming.runtime import (
    Assignment,
    ConfigView,
    DeliveryFailed,
    LoopSettings,
    StreamLoop,
    Subscription,
)
from streaming.step import Step

__all__ = [
    "Assignment",
    "ConfigView",
    "DeliveryFailed",
    "LoopSettings",
    "OffsetTracker",
    "PartitionRef",
    "RecordRef",
    "Step",
    "StepIO",
    "StreamLoop",
    "Subscription",
    "ref_of",
]
