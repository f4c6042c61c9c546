"""Each gateway process listens on one partition of ``rdv.replies`` (DESIGN.md §3, §9).

The rendezvous writes every Result to the partition named in the request's ``reply_to`` as well as
to the service's results topic, so a gateway process reads only the replies of its partition, not
the whole platform's results, however many processes and services there are.

The partition is picked by the process itself and read without a consumer group: gateway processes
come and go (deploys, autoscaling, crashes), and a group would stall every gateway on each of those
rebalances (for 45 s after a crash). Two processes that pick the same partition both read the
other's replies and ignore them — a small cost, and rare with enough partitions
(``RDV_REPLIES_PARTITION`` pins one explicitly).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from contracts.codec import DecodeError, decode
from contracts.kafka import (
    KafkaError,
    KafkaSettings,
    Producer,
    Record,
    TopicPartition,
    make_admin,
    make_consumer,
    make_producer,
)
from contracts.messages import ReplyTo, Result
from contracts.topics import REPLIES_TOPIC
from contracts.topology import platform_topics
from streaming import Assignment, LoopSettings, Step, StepIO, StreamLoop

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Result]


@dataclass
class ReplyHub:
    """One per process: the producer of requests and the listener for their results."""

    settings: KafkaSettings
    pinned_partition: int | None = None
    producer: Producer = field(init=False)
    _waiters: dict[str, _Waiter] = field(default_factory=dict, init=False)
    _partition: int | None = field(default=None, init=False)
    _listening: threading.Event = field(default_factory=threading.Event, init=False)
    _failure: str | None = field(default=None, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.producer = make_producer(self.settings)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="gateway-replies", daemon=True)
            self._thread.start()

    def reply_to(self, timeout: float = 30.0) -> ReplyTo:
        """Where results for this process go; waits until the listener reads its partition."""
        self.start()
        if not self._listening.wait(timeout) or self._partition is None:
            raise KafkaError(self._failure or "the gateway is not listening on rdv.replies yet")
        return ReplyTo(topic=REPLIES_TOPIC, partition=self._partition)

    @property
    def ready(self) -> bool:
        return self._listening.is_set() and self._partition is not None

    def expect(self, request_id: str) -> asyncio.Future[Result]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._waiters[request_id] = _Waiter(loop, future)
        return future

    def forget(self, request_id: str) -> None:
        self._waiters.pop(request_id, None)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=7.0)
        else:
            self.producer.flush(5.0)  # no loop ever owned it

    def _choose_partition(self) -> int:
        admin = make_admin(self.settings)
        try:
            admin.ensure_topics(platform_topics())
            partitions = admin.partition_count(REPLIES_TOPIC) or 1
        finally:
            admin.close()
        if self.pinned_partition is not None:
            if not 0 <= self.pinned_partition < partitions:
                raise KafkaError(f"RDV_REPLIES_PARTITION={self.pinned_partition}: {REPLIES_TOPIC} has {partitions}")
            return self.pinned_partition
        return random.SystemRandom().randrange(partitions)

    def _run(self) -> None:
        try:
            partition = self._choose_partition()
            consumer = make_consumer(self.settings, group_id=None)
            # Only replies written from now on can be ours: start at the current end, explicitly,
            # so nothing sent after ``reply_to`` answers can be missed.
            high = consumer.watermarks(REPLIES_TOPIC, partition)[1]
        except KafkaError as exc:
            self._failure = f"cannot listen on {REPLIES_TOPIC}: {exc}"
            log.error(self._failure)
            return
        # The hub's producer rides on the loop, whose every turn serves its delivery callbacks; the loop
        # owns it from here on and closes it when it stops.
        loop = StreamLoop(
            RepliesStep(self._deliver),
            consumer=consumer,
            producer=self.producer,
            source=Assignment((TopicPartition(REPLIES_TOPIC, partition, high),)),
            settings=LoopSettings(max_wait_s=0.05, stop_flush_s=5.0),
            on_ready=lambda: self._listening_on(partition),
        )
        try:
            loop.run(self._stop)
        except Exception as exc:
            self._failure = f"stopped listening on {REPLIES_TOPIC}[{partition}]: {type(exc).__name__}: {exc}"
            self._listening.clear()
            log.exception("gateway: %s", self._failure)

    def _listening_on(self, partition: int) -> None:
        self._partition = partition
        self._listening.set()
        log.info("gateway listens on %s[%d]", REPLIES_TOPIC, partition)

    def _deliver(self, value: bytes | None) -> None:
        try:
            result = decode(Result, value or b"")
        except DecodeError as exc:
            log.warning("unreadable reply ignored: %s", exc)
            return
        waiter = self._waiters.pop(result.request_id, None)
        if waiter is not None:
            waiter.loop.call_soon_threadsafe(_resolve, waiter.future, result)


class RepliesStep(Step):
    """Hands each reply of this process's partition to the hub; nothing is produced or committed."""

    name = "gateway-replies"

    def __init__(self, deliver: Callable[[bytes | None], None]) -> None:
        self._deliver = deliver

    def process(self, records: Sequence[Record], io: StepIO) -> None:
        for record in records:
            self._deliver(record.value)


def _resolve(future: asyncio.Future[Result], result: Result) -> None:
    if not future.done():
        future.set_result(result)


_hub: ReplyHub | None = None
_hub_lock = threading.Lock()


def get_hub() -> ReplyHub:
    global _hub
    with _hub_lock:
        if _hub is None:
            pinned = os.environ.get("RDV_REPLIES_PARTITION")
            _hub = ReplyHub(KafkaSettings.from_env(), pinned_partition=int(pinned) if pinned else None)
            _hub.start()
        return _hub


def close_hub() -> None:
    """Stop this process's hub (shutdown, or a test switching Kafka clients); the next use starts anew."""
    global _hub
    with _hub_lock:
        hub, _hub = _hub, None
    if hub is not None:
        hub.stop()  # its loop flushes and closes the producer
