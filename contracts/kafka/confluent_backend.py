"""The confluent-kafka (librdkafka) backend: the default, and the one on the hot path."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import confluent_kafka
from confluent_kafka import admin as cadmin
from confluent_kafka.admin import AdminClient, NewTopic

from contracts.kafka.base import (
    BEGINNING,
    CLUSTER_RESOURCE,
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

# The broker's refusals (and a failed login): the adapter raises KafkaAuthorizationError for them.
_REFUSED = {
    confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED,
    confluent_kafka.KafkaError.GROUP_AUTHORIZATION_FAILED,
    confluent_kafka.KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    confluent_kafka.KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    confluent_kafka.KafkaError.SASL_AUTHENTICATION_FAILED,
    confluent_kafka.KafkaError._AUTHENTICATION,
}

_TRANSIENT = {
    confluent_kafka.KafkaError.NOT_LEADER_FOR_PARTITION,
    confluent_kafka.KafkaError.LEADER_NOT_AVAILABLE,
    confluent_kafka.KafkaError.UNKNOWN_TOPIC_OR_PART,
}


def _error(err: Any) -> KafkaError:
    """``err``: a confluent_kafka.KafkaError, or a KafkaException carrying one."""
    inner = err.args[0] if isinstance(err, confluent_kafka.KafkaException) and err.args else err
    if isinstance(inner, confluent_kafka.KafkaError) and inner.code() in _REFUSED:
        return KafkaAuthorizationError(str(inner))
    return KafkaError(str(err))


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """Around calls into confluent-kafka that serve no caller's callback: its exceptions leave as
    the adapter's."""
    try:
        yield
    except confluent_kafka.KafkaException as exc:
        raise _error(exc) from exc


class _LoginWatch:
    """librdkafka reports a failed login only to ``error_cb`` (served inside poll/flush on the caller's
    thread) and keeps retrying; the clients raise it at their next poll instead, so a process with wrong
    credentials stops with a clear error rather than wait for records forever."""

    def __init__(self) -> None:
        self.failure: KafkaAuthorizationError | None = None

    def __call__(self, err: Any) -> None:
        if err.code() in _REFUSED:
            self.failure = KafkaAuthorizationError(str(err))
        else:
            log.warning("kafka client: %s", err)

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure


def security_config(settings: KafkaSettings) -> dict[str, Any]:
    """librdkafka's authentication properties for these settings."""
    config: dict[str, Any] = {"security.protocol": settings.security_protocol}
    if settings.uses_sasl:
        config |= {
            "sasl.mechanism": settings.sasl_mechanism,
            "sasl.username": settings.username,
            "sasl.password": settings.password,
        }
    return config


def _tp_out(tp: confluent_kafka.TopicPartition) -> TopicPartition:
    return TopicPartition(tp.topic, tp.partition, tp.offset)


def _tp_in(tp: TopicPartition) -> confluent_kafka.TopicPartition:
    return confluent_kafka.TopicPartition(tp.topic, tp.partition, tp.offset)


class ConfluentProducer(Producer):
    def __init__(self, settings: KafkaSettings, **overrides: Any) -> None:
        config = {
            "bootstrap.servers": settings.bootstrap_servers,
            **security_config(settings),
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": settings.linger_ms,
            # Same partition for the same key as Java and kafka-python clients.
            "partitioner": "murmur2_random",
            **overrides,
        }
        self._login = _LoginWatch()
        config.setdefault("error_cb", self._login)
        with _translated():
            self._producer = confluent_kafka.Producer(config)
        # How many delivery callbacks ran: librdkafka's poll counts events, one per batch of reports.
        self._served = 0

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
        # The hot path of every loop: no context manager, no keyword dict.
        callback = None if on_delivery is None else self._delivery(on_delivery)
        produce = self._producer.produce
        try:
            try:
                self._produce(produce, topic, value, key, partition, timestamp_ms, callback)
            except BufferError:
                # Local queue full: serve callbacks to make room, then try once more.
                self._producer.poll(0.5)
                try:
                    self._produce(produce, topic, value, key, partition, timestamp_ms, callback)
                except BufferError as exc:
                    raise KafkaError(f"the local queue is full: {exc}") from exc
        except confluent_kafka.KafkaException as exc:
            raise _error(exc) from exc

    @staticmethod
    def _produce(
        produce: Any,
        topic: str,
        value: bytes | None,
        key: bytes | None,
        partition: int | None,
        timestamp_ms: int | None,
        callback: Any,
    ) -> None:
        if timestamp_ms is None:
            if partition is None:
                produce(topic, value, key, on_delivery=callback)
            else:
                produce(topic, value, key, partition, on_delivery=callback)
        else:
            produce(topic, value, key, -1 if partition is None else partition, on_delivery=callback,
                    timestamp=timestamp_ms)

    def _delivery(self, on_delivery: DeliveryCallback) -> Any:
        def delivered(err: Any, msg: Any) -> None:
            self._served += 1
            if err is None:
                on_delivery(None, TopicPartition(msg.topic(), msg.partition(), msg.offset()))
            else:
                partition = msg.partition()
                where = TopicPartition(msg.topic(), -1 if partition is None or partition < 0 else partition, -1)
                on_delivery(_error(err), where)

        return delivered

    def poll(self, timeout: float = 0.0) -> int:
        before = self._served
        try:
            self._producer.poll(timeout)
        except confluent_kafka.KafkaException as exc:  # a fatal error (an idempotent producer refused)
            raise _error(exc) from exc
        self._login.raise_failure()
        return self._served - before

    def flush(self, timeout: float = 10.0) -> int:
        try:
            left = self._producer.flush(timeout)
        except confluent_kafka.KafkaException as exc:
            raise _error(exc) from exc
        self._login.raise_failure()
        return left

    def close(self) -> None:
        with _translated():
            self._producer.flush(10.0)


def _commit_failed(err: Any, partitions: list[Any]) -> None:
    """Served in ``poll``: the outcome of a ``commit_nowait`` (synchronous commits raise instead)."""
    if err is not None:
        log.warning("kafka consumer: commit of %d partitions failed: %s", len(partitions), err)


class ConfluentConsumer(Consumer):
    def __init__(
        self,
        settings: KafkaSettings,
        *,
        group_id: str | None,
        auto_offset_reset: str = "earliest",
        assignor: str = "range",
        **overrides: Any,
    ) -> None:
        config = {
            "bootstrap.servers": settings.bootstrap_servers,
            **security_config(settings),
            # librdkafka wants a group id even for assign(); without one nothing is committed.
            "group.id": group_id or "rdv-unmanaged",
            "enable.auto.commit": False,
            "auto.offset.reset": auto_offset_reset,
            "fetch.wait.max.ms": settings.fetch_wait_ms,
            "partition.assignment.strategy": assignor,
            "topic.metadata.refresh.interval.ms": 5000,
            "on_commit": _commit_failed,
            **overrides,
        }
        self._login = _LoginWatch()
        config.setdefault("error_cb", self._login)
        self._grouped = group_id is not None
        with _translated():
            self._consumer = confluent_kafka.Consumer(config)
        # Where assign/seek placed a partition, until poll returns a record of it: librdkafka's
        # position only follows the records returned.
        self._placed: dict[tuple[str, int], int] = {}
        # Partitions given by assign(), not by a group: seek re-places them (see seek).
        self._manual = False

    def subscribe(
        self,
        topics: Sequence[str],
        *,
        on_assign: AssignCallback | None = None,
        on_revoke: AssignCallback | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {}
        if on_assign is not None:
            kwargs["on_assign"] = lambda _c, parts: on_assign([_tp_out(p) for p in parts])
        if on_revoke is not None:
            kwargs["on_revoke"] = lambda _c, parts: on_revoke([_tp_out(p) for p in parts])
        self._placed = {}
        self._manual = False
        with _translated():
            self._consumer.subscribe(list(topics), **kwargs)

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        with _translated():
            self._consumer.assign([_tp_in(p) for p in partitions])
        self._placed = {(p.topic, p.partition): p.offset for p in partitions if p.offset >= BEGINNING}
        self._manual = True

    def seek(self, partition: TopicPartition) -> None:
        self._require_assigned(partition.topic, partition.partition)
        tp = _tp_in(partition)
        with _translated():
            if self._manual:
                # librdkafka's seek races a start offset still being looked up (right after an
                # assign at BEGINNING/END, the answer lands after the seek and wins), and refuses
                # (_STATE) a partition whose fetcher has not started. Outside a group the partition is
                # placed afresh instead, the others staying where they are.
                self._consumer.incremental_unassign([confluent_kafka.TopicPartition(tp.topic, tp.partition)])
                self._consumer.incremental_assign([tp])
            else:
                self._consumer.seek(tp)
        self._placed[(partition.topic, partition.partition)] = partition.offset

    def _require_assigned(self, topic: str, partition: int) -> None:
        with _translated():
            assigned = self._consumer.assignment()
        if not any(tp.topic == topic and tp.partition == partition for tp in assigned):
            raise KafkaError(f"{topic} [{partition}] is not assigned to this consumer")

    def poll(self, timeout: float) -> Record | None:
        msg = self._consumer.poll(timeout)
        self._login.raise_failure()
        if msg is None:
            return None
        err = msg.error()
        if err is not None:
            if err.fatal() or err.code() in _REFUSED:
                raise _error(err)
            log.warning("kafka consumer: %s", err)
            return None
        if self._placed:
            self._placed.pop((msg.topic(), msg.partition()), None)
        return Record(
            topic=msg.topic(),
            partition=msg.partition(),
            offset=msg.offset(),
            key=msg.key(),
            value=msg.value(),
            timestamp_ms=msg.timestamp()[1],
        )

    def poll_batch(self, max_records: int, timeout: float) -> list[Record]:
        # Wait for the first record only (consume would wait out its timeout for a full batch), then
        # take what is already fetched in one call into librdkafka: per-record calls cost more than
        # the records.
        first = self._consumer.poll(timeout)
        self._login.raise_failure()
        if first is None:
            return []
        messages = [first]
        if max_records > 1:
            messages += self._consumer.consume(max_records - 1, 0)
        records = []
        placed = self._placed
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.fatal() or err.code() in _REFUSED:
                    raise _error(err)
                log.warning("kafka consumer: %s", err)
                continue
            if placed:
                placed.pop((msg.topic(), msg.partition()), None)
            records.append(
                Record(
                    topic=msg.topic(),
                    partition=msg.partition(),
                    offset=msg.offset(),
                    key=msg.key(),
                    value=msg.value(),
                    timestamp_ms=msg.timestamp()[1],
                )
            )
        return records

    def commit(self, offsets: Iterable[TopicPartition]) -> None:
        self._commit(offsets, asynchronous=False)

    def commit_nowait(self, offsets: Iterable[TopicPartition]) -> None:
        self._commit(offsets, asynchronous=True)

    def _commit(self, offsets: Iterable[TopicPartition], *, asynchronous: bool) -> None:
        parts = [_tp_in(tp) for tp in offsets]
        if not parts:
            return
        if not self._grouped:
            raise KafkaError("a consumer without a group cannot commit")
        try:
            self._consumer.commit(offsets=parts, asynchronous=asynchronous)
        except confluent_kafka.KafkaException as exc:
            raise _error(exc) from exc

    def assignment(self) -> list[TopicPartition]:
        with _translated():
            return [_tp_out(p) for p in self._consumer.assignment()]

    def watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        # Right after a topic is created its leader may not be known yet: retry for a while.
        deadline = time.monotonic() + 10.0
        while True:
            try:
                low, high = self._consumer.get_watermark_offsets(
                    confluent_kafka.TopicPartition(topic, partition), timeout=10.0
                )
                return low, high
            except confluent_kafka.KafkaException as exc:
                transient = exc.args[0].retriable() or exc.args[0].code() in _TRANSIENT
                if not transient or time.monotonic() > deadline:
                    raise _error(exc) from exc
                time.sleep(0.1)

    def position(self, topic: str, partition: int) -> int:
        self._require_assigned(topic, partition)
        placed = self._placed.get((topic, partition))
        if placed is not None:
            if placed >= 0:
                return placed
            low, high = self.watermarks(topic, partition)
            return low if placed == BEGINNING else high
        with _translated():
            [tp] = self._consumer.position([confluent_kafka.TopicPartition(topic, partition)])
        return tp.offset

    def lag(self) -> list[TopicPartition]:
        with _translated():
            assigned = self._consumer.assignment()
            positions = self._consumer.position(assigned) if assigned else []
        out: list[TopicPartition] = []
        for tp in positions:
            try:
                # Cached: the high watermark of the partition's last fetch response, no broker request.
                _low, high = self._consumer.get_watermark_offsets(tp, cached=True)
            except confluent_kafka.KafkaException:
                continue
            # librdkafka's position follows the records returned; before the first, where assign/seek placed it.
            position = tp.offset if tp.offset >= 0 else self._placed.get((tp.topic, tp.partition), -1)
            if high is None or high < 0 or position < 0:
                continue
            out.append(TopicPartition(tp.topic, tp.partition, max(0, high - position)))
        return out

    def committed(self, partitions: Sequence[TopicPartition]) -> list[TopicPartition]:
        try:
            found = self._consumer.committed([_tp_in(tp) for tp in partitions], timeout=10.0)
        except confluent_kafka.KafkaException as exc:
            raise _error(exc) from exc
        # librdkafka answers OFFSET_INVALID (-1001) where the group has committed nothing.
        return [TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else -1) for tp in found]

    def offsets_for_times(self, topic: str, partitions: Sequence[int], timestamp_ms: int) -> dict[int, int | None]:
        query = [confluent_kafka.TopicPartition(topic, p, timestamp_ms) for p in partitions]
        try:
            found = self._consumer.offsets_for_times(query, timeout=10.0)
        except confluent_kafka.KafkaException as exc:
            raise _error(exc) from exc
        out: dict[int, int | None] = {}
        for tp in found:
            if tp.error is not None:
                raise _error(tp.error)
            # librdkafka answers OFFSET_END (-1) when no record is that recent.
            out[tp.partition] = tp.offset if tp.offset >= 0 else None
        return out

    def close(self) -> None:
        with _translated():
            self._consumer.close()


class ConfluentAdmin(Admin):
    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        with _translated():
            self._admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers, **security_config(settings)})

    def ensure_topics(self, topics: Sequence[TopicSpec]) -> list[str]:
        missing = [t for t in topics if self.partition_count(t.name) is None]
        if not missing:
            return []
        futures = self._admin.create_topics(
            [NewTopic(t.name, t.partitions, self._settings.replication_factor, config=dict(t.config)) for t in missing],
            operation_timeout=15,
        )
        created = []
        for name, future in futures.items():
            try:
                future.result()
                created.append(name)
            except confluent_kafka.KafkaException as exc:
                if exc.args[0].code() != confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS:
                    raise _error(exc) from exc
        return created

    def partition_count(self, topic: str) -> int | None:
        try:
            metadata = self._admin.list_topics(topic=topic, timeout=10)
        except confluent_kafka.KafkaException as exc:
            raise _error(exc) from exc
        found = metadata.topics.get(topic)
        if found is not None and found.error is not None and found.error.code() in _REFUSED:
            raise _error(found.error)
        if found is None or found.error is not None:
            return None
        return len(found.partitions)

    def delete_topics(self, names: Sequence[str]) -> None:
        if not names:
            return
        for future in self._admin.delete_topics(list(names), operation_timeout=15).values():
            try:
                future.result()
            except confluent_kafka.KafkaException as exc:
                if exc.args[0].code() != confluent_kafka.KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise _error(exc) from exc

    def create_acls(self, bindings: Sequence[AclBinding]) -> None:
        if not bindings:
            return
        futures = self._admin.create_acls([_acl_out(b) for b in dict.fromkeys(bindings)], request_timeout=15)
        for future in futures.values():
            _result(future)

    def delete_acls(self, bindings: Sequence[AclBinding]) -> int:
        if not bindings:
            return 0
        filters = [_acl_out(b, cadmin.AclBindingFilter) for b in dict.fromkeys(bindings)]
        futures = self._admin.delete_acls(filters, request_timeout=15)
        return sum(len(_result(future)) for future in futures.values())

    def describe_acls(self, principal: str) -> list[AclBinding]:
        query = cadmin.AclBindingFilter(
            cadmin.ResourceType.ANY,
            None,
            cadmin.ResourcePatternType.ANY,
            f"User:{principal}",
            None,
            cadmin.AclOperation.ANY,
            cadmin.AclPermissionType.ANY,
        )
        return [_acl_in(b) for b in _result(self._admin.describe_acls(query, request_timeout=15))]

    def upsert_scram_credential(self, username: str, password: str, mechanism: SaslMechanism = "SCRAM-SHA-512") -> None:
        iterations = fresh_scram_iterations()
        info = cadmin.ScramCredentialInfo(_scram(mechanism), iterations)
        upsert = cadmin.UserScramCredentialUpsertion(username, info, password.encode())
        for future in self._admin.alter_user_scram_credentials([upsert], request_timeout=15).values():
            _result(future)
        self._await_scram(username, mechanism, iterations)

    def scram_iterations(self, username: str, mechanism: SaslMechanism = "SCRAM-SHA-512") -> int | None:
        future = self._admin.describe_user_scram_credentials([username], request_timeout=15)[username]
        try:
            description = future.result()
        except confluent_kafka.KafkaException as exc:
            if exc.args[0].code() == confluent_kafka.KafkaError.RESOURCE_NOT_FOUND:
                return None
            raise _error(exc) from exc
        wanted = _scram(mechanism)
        found = [i.iterations for i in description.scram_credential_infos if i.mechanism == wanted]
        return found[0] if found else None

    def delete_scram_credential(self, username: str, mechanism: SaslMechanism = "SCRAM-SHA-512") -> None:
        deletion = cadmin.UserScramCredentialDeletion(username, _scram(mechanism))
        for future in self._admin.alter_user_scram_credentials([deletion], request_timeout=15).values():
            try:
                _result(future)
            except KafkaError as exc:
                if "RESOURCE_NOT_FOUND" not in str(exc) and "does not exist" not in str(exc):
                    raise

    def close(self) -> None:
        pass


def _result(future: Any) -> Any:
    try:
        return future.result()
    except confluent_kafka.KafkaException as exc:
        raise _error(exc) from exc


def _scram(mechanism: SaslMechanism) -> cadmin.ScramMechanism:
    return cadmin.ScramMechanism[mechanism.replace("-", "_")]


# librdkafka calls the cluster resource BROKER.
_RESOURCE_TYPES = {
    "topic": cadmin.ResourceType.TOPIC,
    "group": cadmin.ResourceType.GROUP,
    "cluster": cadmin.ResourceType.BROKER,
}


def _acl_out(binding: AclBinding, kind: type = cadmin.AclBinding) -> Any:
    name = CLUSTER_RESOURCE if binding.resource == "cluster" else binding.name
    return kind(
        _RESOURCE_TYPES[binding.resource],
        name,
        cadmin.ResourcePatternType[binding.pattern.upper()],
        f"User:{binding.principal}",
        "*",
        cadmin.AclOperation[binding.operation.upper()],
        cadmin.AclPermissionType.ALLOW if binding.allow else cadmin.AclPermissionType.DENY,
    )


def _acl_in(binding: Any) -> AclBinding:
    return AclBinding(
        principal=binding.principal.removeprefix("User:"),
        resource="cluster" if binding.restype == cadmin.ResourceType.BROKER else binding.restype.name.lower(),
        name=binding.name,
        operation=binding.operation.name.lower(),
        pattern=binding.resource_pattern_type.name.lower(),
        allow=binding.permission_type == cadmin.AclPermissionType.ALLOW,
    )
