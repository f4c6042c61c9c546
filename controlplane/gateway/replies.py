"""Each gateway process listens on its own partition of ``rdv.replies`` (DESIGN.md §3, §9).

The rendezvous writes every Result to the partition named in the request's ``reply_to`` as well as
to the service's results topic, so a gateway process reads only the answers to its own requests,
however many processes and services there are. Partitions are handed out by a consumer group: the
lowest partition assigned to this process is the one it names in its requests.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field

from contracts.codec import DecodeError, decode
from contracts.kafka import (
    KafkaError,
    KafkaSettings,
    Producer,
    TopicPartition,
    make_admin,
    make_consumer,
    make_producer,
)
from contracts.messages import ReplyTo, Result
from contracts.topics import REPLIES_TOPIC
from contracts.topology import platform_topics

log = logging.getLogger(__name__)

GROUP_ID = "rdv-gateway-replies"


@dataclass(slots=True)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Result]


@dataclass
class ReplyHub:
    """One per process: the producer of requests and the listener for their results."""

    settings: KafkaSettings
    producer: Producer = field(init=False)
    _waiters: dict[str, _Waiter] = field(default_factory=dict, init=False)
    _partition: int | None = field(default=None, init=False)
    _assigned: threading.Event = field(default_factory=threading.Event, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.producer = make_producer(self.settings)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="gateway-replies", daemon=True)
            self._thread.start()

    def reply_to(self, timeout: float = 30.0) -> ReplyTo:
        """Where results for this process go; waits for the group to hand out a partition."""
        self.start()
        if not self._assigned.wait(timeout) or self._partition is None:
            raise KafkaError("no partition of rdv.replies was assigned to this gateway process")
        return ReplyTo(topic=REPLIES_TOPIC, partition=self._partition)

    @property
    def ready(self) -> bool:
        return self._assigned.is_set() and self._partition is not None

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
            self._thread.join(timeout=5.0)

    def _on_assign(self, partitions: list[TopicPartition]) -> None:
        owned = sorted(p.partition for p in partitions if p.topic == REPLIES_TOPIC)
        self._partition = owned[0] if owned else None
        if owned:
            self._assigned.set()
        log.info("gateway replies partition: %s", self._partition)

    def _on_revoke(self, _partitions: list[TopicPartition]) -> None:
        self._assigned.clear()

    def _run(self) -> None:
        admin = make_admin(self.settings)
        try:
            admin.ensure_topics(platform_topics())
        finally:
            admin.close()
        # Only new replies matter: anything written before this process started is someone else's.
        consumer = make_consumer(self.settings, group_id=GROUP_ID, auto_offset_reset="latest",
                                 assignor="range")
        consumer.subscribe([REPLIES_TOPIC], on_assign=self._on_assign, on_revoke=self._on_revoke)
        try:
            while not self._stop.is_set():
                record = consumer.poll(0.05)
                while record is not None:
                    self._deliver(record.value)
                    record = consumer.poll(0)
                self.producer.poll(0)
        finally:
            consumer.close()

    def _deliver(self, value: bytes | None) -> None:
        try:
            result = decode(Result, value or b"")
        except DecodeError as exc:
            log.warning("unreadable reply ignored: %s", exc)
            return
        waiter = self._waiters.pop(result.request_id, None)
        if waiter is not None:
            waiter.loop.call_soon_threadsafe(_resolve, waiter.future, result)


def _resolve(future: asyncio.Future[Result], result: Result) -> None:
    if not future.done():
        future.set_result(result)


_hub: ReplyHub | None = None
_hub_lock = threading.Lock()


def get_hub() -> ReplyHub:
    global _hub
    with _hub_lock:
        if _hub is None:
            _hub = ReplyHub(KafkaSettings.from_env())
            _hub.start()
        return _hub


def close_hub() -> None:
    """Stop this process's hub (shutdown, or a test switching Kafka clients); the next use starts anew."""
    global _hub
    with _hub_lock:
        hub, _hub = _hub, None
    if hub is not None:
        hub.stop()
        hub.producer.flush(5.0)
