"""The Kafka adapter's interface: what every process above it may use (DESIGN.md §3).

Two backends implement it (confluent-kafka, the default, and kafka-python). Code above the adapter
never imports either library. Delivery callbacks run only inside ``poll``/``flush`` on the caller's
thread on both backends, so callers need no locking of their own.
"""

from __future__ import annotations

import os
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from contracts.settings_catalog import read_float, read_int, read_str

ClientName = Literal["confluent", "kafka-python"]
CLIENTS: tuple[ClientName, ...] = ("confluent", "kafka-python")
SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"]
SECURITY_PROTOCOLS: tuple[SecurityProtocol, ...] = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL")
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
SASL_MECHANISMS: tuple[SaslMechanism, ...] = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
# The mechanisms whose credentials the control plane can create on the broker (tenants' users).
SCRAM_MECHANISMS: tuple[SaslMechanism, ...] = ("SCRAM-SHA-512", "SCRAM-SHA-256")


# Each empty fetch costs the broker a request (on the bench broker, ~8 idle consumers at 100 ms kept
# its request threads at 20 % of a core with nothing to do; 500 ms, 13 %: docs/benchmarks.md).
BACKGROUND_FETCH_WAIT_MS = 500


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    bootstrap_servers: str = "127.0.0.1:9092"
    client: ClientName = "confluent"
    replication_factor: int = 1
    linger_ms: float = 1.0
    # How long a broker may hold a fetch open when there is no data. Data ends the wait at once
    # (fetch.min.bytes is 1), so this costs no latency: measured p50 1.86 ms at 10 ms, 1.96 ms at
    # 100 ms through three hops, while 10 ms made an idle broker answer 100 empty fetches a second
    # per consumer.
    fetch_wait_ms: int = 100
    # Authentication (DESIGN.md §3 *Authentication and ACLs*): SASL_PLAINTEXT with SCRAM on the project's broker; the
    # user name is the process's principal, whose ACLs decide what it may read and write.
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    username: str = ""
    password: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise ValueError(
                f"RDV_KAFKA_SECURITY_PROTOCOL must be one of {', '.join(SECURITY_PROTOCOLS)}, "
                f"not {self.security_protocol!r}"
            )
        if self.sasl_mechanism not in SASL_MECHANISMS:
            raise ValueError(
                f"RDV_KAFKA_SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)}, not {self.sasl_mechanism!r}"
            )
        if self.uses_sasl and not (self.username and self.password):
            raise ValueError(
                f"RDV_KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs RDV_KAFKA_USERNAME and RDV_KAFKA_PASSWORD"
            )

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    def background(self) -> KafkaSettings:
        """The settings of a consumer off the hot path (the config follower, the decisions and status
        consumers), which idles most of the time: its broker may hold an empty fetch for
        BACKGROUND_FETCH_WAIT_MS, since data still ends the wait at once (*changed (runtime)*)."""
        return replace(self, fetch_wait_ms=max(self.fetch_wait_ms, BACKGROUND_FETCH_WAIT_MS))

    def as_user(self, username: str, password: str) -> KafkaSettings:
        """The same connection as another principal (a worker's own user, a tenant's)."""
        return replace(self, username=username, password=password)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KafkaSettings:
        """The RDV_KAFKA_* variables (contracts/settings_catalog/catalog.py); a bad one raises ``ValueError``."""
        env = os.environ if environ is None else environ
        return cls(
            bootstrap_servers=read_str(env, "RDV_KAFKA_BOOTSTRAP"),
            client=read_str(env, "RDV_KAFKA_CLIENT"),  # type: ignore[arg-type]  # a declared choice
            replication_factor=read_int(env, "RDV_KAFKA_REPLICATION"),
            linger_ms=read_float(env, "RDV_KAFKA_LINGER_MS"),
            fetch_wait_ms=read_int(env, "RDV_KAFKA_FETCH_WAIT_MS"),
            security_protocol=read_str(env, "RDV_KAFKA_SECURITY_PROTOCOL"),  # type: ignore[arg-type]
            sasl_mechanism=read_str(env, "RDV_KAFKA_SASL_MECHANISM"),  # type: ignore[arg-type]
            username=read_str(env, "RDV_KAFKA_USERNAME"),
            password=read_str(env, "RDV_KAFKA_PASSWORD"),
        )


@dataclass(frozen=True, slots=True)
class TopicPartition:
    topic: str
    partition: int
    offset: int = -1


@dataclass(slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


class KafkaError(RuntimeError):
    """A broker or client failure, whichever backend raised it: no exception of either client
    library leaves the adapter (tests/contracts/kafka/test_adapter_contract.py)."""


class KafkaAuthorizationError(KafkaError):
    """The broker refused: no ACL allows this principal the operation (or the login failed)."""


AclResource = Literal["topic", "group", "cluster"]
AclPattern = Literal["literal", "prefixed"]
AclOperation = Literal[
    "all", "read", "write", "create", "delete", "alter", "describe", "describe_configs", "alter_configs"
]
CLUSTER_RESOURCE = "kafka-cluster"


@dataclass(frozen=True, slots=True)
class AclBinding:
    """One ACL: ``principal`` (a user name, without ``User:``) may (or, ``allow=False``, may not) do
    ``operation`` on the resource(s) ``name`` names, exactly or as a prefix. From any host."""

    principal: str
    resource: AclResource
    name: str
    operation: AclOperation
    pattern: AclPattern = "literal"
    allow: bool = True


# Called with (error or None, the delivered record's topic/partition/offset); after a failure the
# offset is -1, and so is the partition when none was chosen yet.
DeliveryCallback = Callable[[KafkaError | None, TopicPartition], None]
AssignCallback = Callable[[list[TopicPartition]], None]


class Producer(ABC):
    @abstractmethod
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
        """Queue one record; ``partition=None`` means murmur2 of the key, as Java clients do.

        ``timestamp_ms`` sets the record's create time (default: now); the archive stamps each copy
        with the request's ``sent_at`` so that a time-range export can seek by it."""

    @abstractmethod
    def poll(self, timeout: float = 0.0) -> int:
        """Serve delivery callbacks; returns how many ran."""

    @abstractmethod
    def flush(self, timeout: float = 10.0) -> int:
        """Wait at most ``timeout`` seconds for every queued record, serving the delivery callbacks;
        returns how many records are still undelivered (neither acknowledged nor failed), so that a
        caller commits its input only on 0."""

    @abstractmethod
    def close(self) -> None: ...


class Consumer(ABC):
    @abstractmethod
    def subscribe(
        self,
        topics: Sequence[str],
        *,
        on_assign: AssignCallback | None = None,
        on_revoke: AssignCallback | None = None,
    ) -> None: ...

    @abstractmethod
    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        """Group-less consumption; ``offset=-2`` is the beginning, ``-1`` the end."""

    @abstractmethod
    def poll(self, timeout: float) -> Record | None:
        """One record: what is already fetched at once, else wait at most ``timeout`` seconds."""

    def poll_batch(self, max_records: int, timeout: float) -> list[Record]:
        """What is already fetched, up to ``max_records``; when nothing is, wait at most ``timeout``
        seconds for the first record. A backend may do this in one call into its library."""
        record = self.poll(timeout)
        if record is None:
            return []
        records = [record]
        while len(records) < max_records:
            more = self.poll(0)
            if more is None:
                break
            records.append(more)
        return records

    @abstractmethod
    def commit(self, offsets: Iterable[TopicPartition]) -> None:
        """Commit synchronously; each offset is the next one to read. KafkaError on a consumer made
        without a group."""

    def commit_nowait(self, offsets: Iterable[TopicPartition]) -> None:
        """Send a commit and return at once; a failure is logged when a later ``poll`` learns of it.

        For the periodic commits of a loop that also keeps timers (the rendezvous' deadlines): a
        synchronous commit waits for the group coordinator, measured p50 6.6 / p99 27 ms on the bench
        broker, and every timer due meanwhile fires that much late. A failed commit is harmless: the
        next one carries the same or later offsets, and a crash re-reads from the last one that landed.
        Commits that must land before going on (on revoke, at shutdown) stay synchronous (``commit``).
        Not abstract so that test doubles need not grow it; both backends implement it."""
        self.commit(offsets)

    @abstractmethod
    def assignment(self) -> list[TopicPartition]: ...

    @abstractmethod
    def watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        """(low, high): high is the offset the next record written will get."""

    @abstractmethod
    def position(self, topic: str, partition: int) -> int:
        """The offset of the next record ``poll`` returns from this assigned partition (after an
        ``assign``/``seek`` to an offset and before any record, that offset); KafkaError when the
        partition is not assigned."""

    def lag(self) -> list[TopicPartition]:
        """Per assigned partition, how many records ``poll`` has not returned yet (in ``offset``): the
        high watermark minus the position, both as the client last learnt them (no broker round trip:
        fetch responses carry the high watermark), so it is cheap enough to sample every few seconds.
        A partition is left out while the client knows either not: its high watermark before its first
        fetch, its position before its first record when it was placed at the beginning or end (or, with
        librdkafka, by the group's committed offset) — an idle partition then counts as no lag.

        Not abstract so that test doubles of the hot path need not grow it; both backends implement it."""
        raise NotImplementedError(f"{type(self).__name__} cannot tell its lag")

    def seek(self, partition: TopicPartition) -> None:
        """Make ``poll`` continue this assigned partition at ``partition.offset``: an offset,
        ``BEGINNING`` or ``END``. Records of it fetched but not yet returned are dropped; KafkaError
        when the partition is not assigned.

        Not abstract so that test doubles of the hot path need not grow it; both backends implement it."""
        raise NotImplementedError(f"{type(self).__name__} cannot seek")

    def committed(self, partitions: Sequence[TopicPartition]) -> list[TopicPartition]:
        """The group's committed position of each partition (offset -1 where nothing is committed).

        Not abstract so that test doubles of the hot path need not grow it; both backends implement it."""
        raise NotImplementedError(f"{type(self).__name__} cannot read committed offsets")

    def offsets_for_times(self, topic: str, partitions: Sequence[int], timestamp_ms: int) -> dict[int, int | None]:
        """Per partition, the earliest offset whose record timestamp is at or after ``timestamp_ms``;
        None when no record is that recent (the caller then reads up to the high watermark).

        Not abstract so that test doubles of the hot path need not grow it; both backends implement it."""
        raise NotImplementedError(f"{type(self).__name__} cannot look offsets up by time")

    @abstractmethod
    def close(self) -> None: ...


class Admin(ABC):
    @abstractmethod
    def ensure_topics(self, topics: Sequence[TopicSpec]) -> list[str]:
        """Create the topics that do not exist yet; returns the names it created."""

    @abstractmethod
    def partition_count(self, topic: str) -> int | None:
        """The number of partitions, or None when the topic does not exist."""

    @abstractmethod
    def delete_topics(self, names: Sequence[str]) -> None: ...

    # Access control (the control plane's and the bootstrap's; needs ALTER on the cluster). Not
    # abstract, so that test doubles need not grow them; both backends implement them.

    def create_acls(self, bindings: Sequence[AclBinding]) -> None:
        """Create the ACLs; one that exists already is left as it is."""
        raise NotImplementedError(f"{type(self).__name__} cannot manage ACLs")

    def delete_acls(self, bindings: Sequence[AclBinding]) -> int:
        """Delete exactly these ACLs; returns how many existed."""
        raise NotImplementedError(f"{type(self).__name__} cannot manage ACLs")

    def describe_acls(self, principal: str) -> list[AclBinding]:
        """Every ACL of one principal."""
        raise NotImplementedError(f"{type(self).__name__} cannot manage ACLs")

    def upsert_scram_credential(self, username: str, password: str, mechanism: SaslMechanism = "SCRAM-SHA-512") -> None:
        """Create the user's SCRAM credential, or replace its password; returns once the broker
        authenticates with it (see ``_await_scram``)."""
        raise NotImplementedError(f"{type(self).__name__} cannot manage credentials")

    def scram_iterations(self, username: str, mechanism: SaslMechanism = "SCRAM-SHA-512") -> int | None:
        """The iteration count of the user's credential as the broker knows it; None without one."""
        raise NotImplementedError(f"{type(self).__name__} cannot manage credentials")

    def _await_scram(self, username: str, mechanism: SaslMechanism, iterations: int, timeout: float = 10.0) -> None:
        """The controller acknowledges a credential before the broker has applied it, and a login in
        between fails. Each upsert uses a fresh iteration count, so seeing it on the broker means this
        very password is live there."""
        deadline = time.monotonic() + timeout
        while self.scram_iterations(username, mechanism) != iterations:
            if time.monotonic() > deadline:
                raise KafkaError(f"the SCRAM credential of {username} did not reach the broker in {timeout:.0f} s")
            time.sleep(0.05)

    def delete_scram_credential(self, username: str, mechanism: SaslMechanism = "SCRAM-SHA-512") -> None:
        """Remove the user's SCRAM credential; a user without one is not an error."""
        raise NotImplementedError(f"{type(self).__name__} cannot manage credentials")

    @abstractmethod
    def close(self) -> None: ...


BEGINNING = -2
END = -1


def fresh_scram_iterations() -> int:
    """Above Kafka's minimum (4096) and different at every upsert (see ``Admin._await_scram``)."""
    return 8192 + secrets.randbelow(8192)
