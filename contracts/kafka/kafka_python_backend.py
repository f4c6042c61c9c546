"""The kafka-python backend: pure Python, no native code; selectable with RDV_KAFKA_CLIENT."""

from __future__ import annotations

import contextlib
import logging
import queue
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import kafka
import kafka.errors
from kafka import admin as kadmin
from kafka.admin import KafkaAdminClient
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.structs import OffsetAndMetadata
from kafka.structs import TopicPartition as KTopicPartition

from contracts.kafka.base import (
    BEGINNING,
    CLUSTER_RESOURCE,
    END,
    AclBinding,
    Admin,
    AssignCallback,
    Consumer,
    DeliveryCallback,
    KafkaAuthorizationError,
    KafkaError,
    KafkaSettings,
    Producer,
    Record,
    SaslMechanism,
    TopicPartition,
    TopicSpec,
    fresh_scram_iterations,
)

log = logging.getLogger(__name__)

# kafka-python logs every connection at INFO; keep its chatter out of our logs unless asked for.
if logging.getLogger("kafka").level == logging.NOTSET:
    logging.getLogger("kafka").setLevel(logging.WARNING)

_ASSIGNORS = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}
# How long a group member may stay without partitions after a revoke before it starts over as a new
# member (see KafkaPythonConsumer._restart_if_stalled).
REJOIN_STALL_S = 10.0

# The broker's refusals (and a failed login): the adapter raises KafkaAuthorizationError for them.
_REFUSED = (kafka.errors.AuthorizationError, kafka.errors.SaslAuthenticationFailedError)


# What kafka-python raises besides its own errors: asserts and ValueErrors on arguments it refuses
# (an unknown partition, a seek to a partition not assigned).
_LIBRARY_ERRORS = (kafka.errors.KafkaError, AssertionError, ValueError)


def _error(exc: BaseException) -> KafkaError:
    if isinstance(exc, KafkaError):
        return exc
    if isinstance(exc, _REFUSED):
        return KafkaAuthorizationError(str(exc))
    return KafkaError(f"{type(exc).__name__}: {exc}" if isinstance(exc, AssertionError | ValueError) else str(exc))


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """Around calls into kafka-python only (never around a caller's callback): its exceptions leave
    as the adapter's."""
    try:
        yield
    except _LIBRARY_ERRORS as exc:
        raise _error(exc) from exc


def security_config(settings: KafkaSettings) -> dict[str, Any]:
    """kafka-python's authentication options for these settings."""
    config: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if settings.uses_sasl:
        config |= {
            "sasl_mechanism": settings.sasl_mechanism,
            "sasl_plain_username": settings.username,
            "sasl_plain_password": settings.password,
        }
    return config


class KafkaPythonProducer(Producer):
    def __init__(self, settings: KafkaSettings, **overrides: Any) -> None:
        with _translated():
            self._producer = kafka.KafkaProducer(
                bootstrap_servers=settings.bootstrap_servers,
                **security_config(settings),
                acks="all",
                enable_idempotence=True,
                linger_ms=settings.linger_ms,
                **overrides,
            )
        # Futures complete on kafka-python's I/O thread; every record's outcome is queued and its
        # callback (if any) runs in poll(), on the caller's thread.
        self._completed: queue.SimpleQueue[tuple[DeliveryCallback | None, KafkaError | None, TopicPartition]]
        self._completed = queue.SimpleQueue()
        # Records produced whose outcome poll() has not served yet (only the caller's thread counts).
        self._undelivered = 0

    def produce(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        partition: int | None = None,
        on_delivery: DeliveryCallback | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        with _translated():
            future = self._producer.send(topic, value=value, key=key, partition=partition, timestamp_ms=timestamp_ms)
        self._undelivered += 1
        done = self._completed

        def ok(meta: Any) -> None:
            done.put((on_delivery, None, TopicPartition(meta.topic, meta.partition, meta.offset)))

        def failed(exc: Exception) -> None:
            where = TopicPartition(topic, -1 if partition is None else partition, -1)
            done.put((on_delivery, _error(exc), where))

        future.add_callback(ok)
        future.add_errback(failed)

    def poll(self, timeout: float = 0.0) -> int:
        served = 0
        block = timeout > 0
        deadline = time.monotonic() + timeout
        while True:
            wait = max(0.0, deadline - time.monotonic())
            try:
                callback, err, tp = self._completed.get(block=block, timeout=wait if block else None)
            except queue.Empty:
                return served
            self._undelivered -= 1
            if callback is None:
                # A record without a callback: its outcome is only counted; wait on for one that has.
                block = block and served == 0 and time.monotonic() < deadline
                continue
            callback(err, tp)
            served += 1
            block = False

    def flush(self, timeout: float = 10.0) -> int:
        try:
            with _translated():
                self._producer.flush(timeout=timeout)
        except KafkaError as exc:
            if not isinstance(exc.__cause__, kafka.errors.KafkaTimeoutError):
                raise
        self.poll(0)
        return self._undelivered

    def close(self) -> None:
        self.flush()
        with _translated():
            self._producer.close(timeout=10)


class _Listener(ConsumerRebalanceListener):
    """kafka-python 3 calls rebalance listeners on its I/O thread, where any blocking consumer call
    (a commit, above all) fails and breaks the rebalance. So the events are only queued here and
    the caller's callbacks run on the caller's thread at its next ``poll``."""

    def __init__(self, events: queue.SimpleQueue[tuple[str, list[TopicPartition]]]) -> None:
        self._events = events

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._events.put(("revoke", [TopicPartition(tp.topic, tp.partition) for tp in revoked]))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._events.put(("assign", [TopicPartition(tp.topic, tp.partition) for tp in assigned]))


class KafkaPythonConsumer(Consumer):
    def __init__(
        self,
        settings: KafkaSettings,
        *,
        group_id: str | None,
        auto_offset_reset: str = "earliest",
        assignor: str = "range",
        **overrides: Any,
    ) -> None:
        self._options: dict[str, Any] = {
            "bootstrap_servers": settings.bootstrap_servers,
            **security_config(settings),
            "group_id": group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": auto_offset_reset,
            "fetch_max_wait_ms": settings.fetch_wait_ms,
            "partition_assignment_strategy": (_ASSIGNORS[assignor],),
            "metadata_max_age_ms": 5000,
            **overrides,
        }
        with _translated():
            self._consumer = kafka.KafkaConsumer(**self._options)
        # When the last revoke left this member without partitions and no assignment followed yet.
        self._revoked_at: float | None = None
        self._buffer: deque[Record] = deque()
        self._events: queue.SimpleQueue[tuple[str, list[TopicPartition]]] = queue.SimpleQueue()
        self._on_assign: AssignCallback | None = None
        self._on_revoke: AssignCallback | None = None
        self._topics: set[str] = set()
        self._assigned_topics: set[str] = set()
        self._uncovered: set[str] = set()
        self._rejoins_left = 0

    def _run_rebalance_events(self) -> None:
        while True:
            try:
                kind, parts = self._events.get_nowait()
            except queue.Empty:
                return
            if kind == "revoke":
                self._revoked_at = time.monotonic()
                gone = {(p.topic, p.partition) for p in parts}
                self._buffer = deque(r for r in self._buffer if (r.topic, r.partition) not in gone)
                if self._on_revoke is not None:
                    self._on_revoke(parts)
            else:
                self._revoked_at = None
                self._check_assignment(parts)
                if self._on_assign is not None:
                    self._on_assign(parts)

    def subscribe(
        self,
        topics: Sequence[str],
        *,
        on_assign: AssignCallback | None = None,
        on_revoke: AssignCallback | None = None,
    ) -> None:
        self._on_assign, self._on_revoke = on_assign, on_revoke
        self._topics = set(topics)
        self._rejoins_left = 5
        with _translated():
            self._consumer.subscribe(topics=list(topics), listener=_Listener(self._events))

    def _check_assignment(self, parts: list[TopicPartition]) -> None:
        """kafka-python's group leader assigns nothing for a topic it had no metadata for when the group
        formed, and was seen not to rejoin for 20 s and more after the metadata arrived. A topic left
        without partitions while the metadata knows it gets the group rejoined (a bounded number of
        times: with more members than partitions, a member rightly gets none)."""
        self._uncovered = self._topics - {p.topic for p in parts}
        self._rejoin_if_uncovered()

    def _rejoin_if_uncovered(self) -> None:
        if not self._uncovered or self._rejoins_left <= 0:
            return
        cluster = self._consumer._client.cluster  # noqa: SLF001 - kafka-python offers no public hook
        known = [t for t in self._uncovered if cluster.partitions_for_topic(t)]
        if known:
            self._rejoins_left -= 1
            self._uncovered = set()
            log.info("kafka-python: %d subscribed topics got no partitions; rejoining the group", len(known))
            self._consumer._coordinator.request_rejoin()  # noqa: SLF001
        else:
            cluster.request_update()

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        self._buffer.clear()
        self._assigned_topics = {p.topic for p in partitions}
        with _translated():
            self._consumer.assign([KTopicPartition(p.topic, p.partition) for p in partitions])
        for p in partitions:
            if p.offset >= 0 or p.offset in (BEGINNING, END):
                self._place(p)

    def seek(self, partition: TopicPartition) -> None:
        self._require_assigned(partition.topic, partition.partition)
        where = (partition.topic, partition.partition)
        self._buffer = deque(r for r in self._buffer if (r.topic, r.partition) != where)
        self._place(partition)

    def _place(self, p: TopicPartition) -> None:
        kp = KTopicPartition(p.topic, p.partition)
        with _translated():
            if p.offset == BEGINNING:
                self._consumer.seek_to_beginning(kp)
            elif p.offset == END:
                self._consumer.seek_to_end(kp)
            else:
                self._consumer.seek(kp, p.offset)

    def _require_assigned(self, topic: str, partition: int) -> None:
        with _translated():
            assigned = self._consumer.assignment()
        if KTopicPartition(topic, partition) not in assigned:
            raise KafkaError(f"{topic} [{partition}] is not assigned to this consumer")

    def _restart_if_stalled(self) -> None:
        """Start over as a new group member when a rebalance never completes.

        Seen with kafka-python 3.0.12 in the end-to-end suite: after a resubscribe (a service added) a
        member revoked its partitions and then got no assignment for 70-80 s, with no other member in
        the group; a new member joining ended it. A member stuck like that is closed and replaced by a
        fresh consumer with the same subscription, which joins at once. The committed offsets carry
        over, exactly as in any rebalance.
        """
        if self._revoked_at is None or not self._topics:
            return
        stalled = time.monotonic() - self._revoked_at
        if stalled < REJOIN_STALL_S:
            return
        log.warning("kafka-python: no partitions %.0f s after a revoke; rejoining as a new member", stalled)
        with contextlib.suppress(Exception):
            self._consumer.close(autocommit=False)
        with _translated():
            self._consumer = kafka.KafkaConsumer(**self._options)
            self._consumer.subscribe(topics=sorted(self._topics), listener=_Listener(self._events))
        self._revoked_at = time.monotonic()
        self._rejoins_left = 5

    def poll(self, timeout: float) -> Record | None:
        self._run_rebalance_events()
        self._restart_if_stalled()
        if self._uncovered and not self._buffer:
            self._rejoin_if_uncovered()
        if not self._buffer:
            with _translated():
                batches = self._consumer.poll(timeout_ms=int(timeout * 1000), max_records=500)
            self._raise_if_refused()
            # A rebalance inside that poll: apply it while the buffer is empty, so none of the
            # records just fetched (already under the new assignment) are dropped.
            self._run_rebalance_events()
            for records in batches.values():
                self._buffer.extend(
                    Record(
                        topic=r.topic,
                        partition=r.partition,
                        offset=r.offset,
                        key=r.key,
                        value=r.value,
                        timestamp_ms=r.timestamp,
                    )
                    for r in records
                )
        return self._buffer.popleft() if self._buffer else None

    def _raise_if_refused(self) -> None:
        """kafka-python only notes a topic the broker will not describe to this principal (and then never
        assigns or fetches it); say so, as librdkafka does, rather than wait for records forever."""
        cluster = self._consumer._client.cluster  # noqa: SLF001 - kafka-python offers no public hook
        refused = cluster.unauthorized_topics & (self._topics | self._assigned_topics)
        if refused:
            raise KafkaAuthorizationError(f"Topic authorization failed: {', '.join(sorted(refused))}")

    def commit(self, offsets: Iterable[TopicPartition]) -> None:
        parts = self._commit_parts(offsets)
        if parts:
            with _translated():
                self._consumer.commit(offsets=parts)

    def commit_nowait(self, offsets: Iterable[TopicPartition]) -> None:
        parts = self._commit_parts(offsets)
        if parts:
            with _translated():
                self._consumer.commit_async(offsets=parts, callback=_commit_done)

    def _commit_parts(self, offsets: Iterable[TopicPartition]) -> dict[KTopicPartition, OffsetAndMetadata]:
        parts = {KTopicPartition(tp.topic, tp.partition): OffsetAndMetadata(tp.offset, "", -1) for tp in offsets}
        if parts and self._options["group_id"] is None:
            raise KafkaError("a consumer without a group cannot commit")
        return parts

    def assignment(self) -> list[TopicPartition]:
        with _translated():
            return [TopicPartition(tp.topic, tp.partition) for tp in self._consumer.assignment()]

    def watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        tp = KTopicPartition(topic, partition)
        with _translated():
            low = self._consumer.beginning_offsets([tp])[tp]
            high = self._consumer.end_offsets([tp])[tp]
        return low, high

    def committed(self, partitions: Sequence[TopicPartition]) -> list[TopicPartition]:
        out = []
        for tp in partitions:
            try:
                offset = self._consumer.committed(KTopicPartition(tp.topic, tp.partition))
            except kafka.errors.KafkaError as exc:
                raise _error(exc) from exc
            out.append(TopicPartition(tp.topic, tp.partition, -1 if offset is None else offset))
        return out

    def lag(self) -> list[TopicPartition]:
        # Records fetched but not returned yet are ahead of kafka-python's position (see position).
        buffered: dict[tuple[str, int], int] = {}
        for record in self._buffer:
            buffered.setdefault((record.topic, record.partition), record.offset)
        out: list[TopicPartition] = []
        with _translated():
            for tp in self._consumer.assignment():
                # From the partition's last fetch response: no broker request.
                high = self._consumer.highwater(tp)
                if high is None:
                    continue
                position = buffered.get((tp.topic, tp.partition))
                if position is None:
                    position = self._consumer.position(tp, timeout_ms=0)
                if position is None:
                    continue
                out.append(TopicPartition(tp.topic, tp.partition, max(0, high - position)))
        return out

    def position(self, topic: str, partition: int) -> int:
        # Records fetched but not returned yet are ahead of kafka-python's position: the next one is it.
        for record in self._buffer:
            if record.topic == topic and record.partition == partition:
                return record.offset
        self._require_assigned(topic, partition)
        with _translated():
            return self._consumer.position(KTopicPartition(topic, partition))

    def offsets_for_times(self, topic: str, partitions: Sequence[int], timestamp_ms: int) -> dict[int, int | None]:
        query = {KTopicPartition(topic, p): timestamp_ms for p in partitions}
        with _translated():
            found = self._consumer.offsets_for_times(query)
        return {tp.partition: (None if hit is None else hit.offset) for tp, hit in found.items()}

    def close(self) -> None:
        with _translated():
            self._consumer.close(autocommit=False)


class KafkaPythonAdmin(Admin):
    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        with _translated():
            self._admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, **security_config(settings))

    def ensure_topics(self, topics: Sequence[TopicSpec]) -> list[str]:
        with _translated():
            existing = set(self._admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if not missing:
            return []
        spec = {
            t.name: {
                "num_partitions": t.partitions,
                "replication_factor": self._settings.replication_factor,
                "configs": dict(t.config),
            }
            for t in missing
        }
        with _translated(), contextlib.suppress(kafka.errors.TopicAlreadyExistsError):
            self._admin.create_topics(spec, wait_for_metadata=True)
        return [t.name for t in missing]

    def partition_count(self, topic: str) -> int | None:
        with _translated():
            described = self._admin.describe_topics([topic])
        for found in described:
            if found.get("name") != topic:
                continue
            code = found.get("error_code")
            if not code:
                return len(found["partitions"])
            error = kafka.errors.for_code(code)
            if issubclass(error, _REFUSED):
                raise KafkaAuthorizationError(f"describing {topic}: {error.__name__}")
        return None

    def delete_topics(self, names: Sequence[str]) -> None:
        if not names:
            return
        with _translated(), contextlib.suppress(kafka.errors.UnknownTopicOrPartitionError):
            self._admin.delete_topics(list(names))

    def create_acls(self, bindings: Sequence[AclBinding]) -> None:
        if not bindings:
            return
        try:
            outcome = self._admin.create_acls([_acl_out(b, kadmin.ACL) for b in dict.fromkeys(bindings)])
        except kafka.errors.KafkaError as exc:
            raise _error(exc) from exc
        for failure in outcome["failed"]:
            raise _error(failure() if isinstance(failure, type) else failure)

    def delete_acls(self, bindings: Sequence[AclBinding]) -> int:
        if not bindings:
            return 0
        try:
            results = self._admin.delete_acls([_acl_out(b, kadmin.ACLFilter) for b in dict.fromkeys(bindings)])
        except kafka.errors.KafkaError as exc:
            raise _error(exc) from exc
        deleted = 0
        for _filter, matched, error_type in results:
            if error_type is not kafka.errors.NoError:
                raise _error(error_type())
            deleted += len(matched)
        return deleted

    def describe_acls(self, principal: str) -> list[AclBinding]:
        query = kadmin.ACLFilter(
            principal=f"User:{principal}",
            host=None,
            operation=kadmin.ACLOperation.ANY,
            permission_type=kadmin.ACLPermissionType.ANY,
            resource_pattern=kadmin.ResourcePatternFilter(
                kadmin.ResourceType.ANY, None, kadmin.ACLResourcePatternType.ANY
            ),
        )
        try:
            found, _ = self._admin.describe_acls(query)
        except kafka.errors.KafkaError as exc:
            raise _error(exc) from exc
        return [_acl_in(acl) for acl in found]

    def upsert_scram_credential(self, username: str, password: str, mechanism: SaslMechanism = "SCRAM-SHA-512") -> None:
        iterations = fresh_scram_iterations()
        upsert = kadmin.UserScramCredentialUpsertion(username, mechanism, password, iterations=iterations)
        self._alter_scram(upsert, missing_ok=False)
        self._await_scram(username, mechanism, iterations)

    def scram_iterations(self, username: str, mechanism: SaslMechanism = "SCRAM-SHA-512") -> int | None:
        try:
            found = self._admin.describe_user_scram_credentials([username]).get(username)
        except kafka.errors.ResourceNotFoundError:
            return None
        except kafka.errors.KafkaError as exc:
            raise _error(exc) from exc
        if not found or found["error"]:
            return None
        wanted = kadmin.ScramMechanism[mechanism.replace("-", "_")]
        return next((i["iterations"] for i in found["credential_infos"] if i["mechanism"] == wanted), None)

    def delete_scram_credential(self, username: str, mechanism: SaslMechanism = "SCRAM-SHA-512") -> None:
        self._alter_scram(kadmin.UserScramCredentialDeletion(username, mechanism), missing_ok=True)

    def _alter_scram(self, alteration: Any, *, missing_ok: bool) -> None:
        try:
            errors = self._admin.alter_user_scram_credentials([alteration])
        except kafka.errors.KafkaError as exc:
            raise _error(exc) from exc
        for user, message in errors.items():
            if message is None or (missing_ok and "does not exist" in message.lower()):
                continue
            refused = "authoriz" in message.lower()
            raise (KafkaAuthorizationError if refused else KafkaError)(f"SCRAM credential of {user}: {message}")

    def close(self) -> None:
        with _translated():
            self._admin.close()


def _acl_out(binding: AclBinding, kind: type) -> Any:
    name = CLUSTER_RESOURCE if binding.resource == "cluster" else binding.name
    return kind(
        principal=f"User:{binding.principal}",
        host="*",
        operation=kadmin.ACLOperation[binding.operation.upper()],
        permission_type=kadmin.ACLPermissionType.ALLOW if binding.allow else kadmin.ACLPermissionType.DENY,
        resource_pattern=kadmin.ResourcePattern(
            kadmin.ResourceType[binding.resource.upper()], name, kadmin.ACLResourcePatternType[binding.pattern.upper()]
        ),
    )


def _acl_in(acl: Any) -> AclBinding:
    pattern = acl.resource_pattern
    return AclBinding(
        principal=acl.principal.removeprefix("User:"),
        resource=pattern.resource_type.name.lower(),
        name=pattern.resource_name,
        operation=acl.operation.name.lower(),
        pattern=pattern.pattern_type.name.lower(),
        allow=acl.permission_type == kadmin.ACLPermissionType.ALLOW,
    )


def _commit_done(offsets: Any, response: Any) -> None:
    """Served in ``poll``: the outcome of a ``commit_nowait``; ``response`` is an exception on failure."""
    if isinstance(response, Exception):
        log.warning("kafka consumer: commit of %d partitions failed: %s", len(offsets), response)
