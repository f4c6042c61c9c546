"""Real ``python -m rendezvous_worker`` processes on the real broker, with the test playing everyone else.

The test is the client (it produces Requests), the model runners (a :class:`FakeRunner` reads the
requests topic like a runner pool and answers each request with Scores at the request's partition
number, per model as the request's ``plan`` says: ok after N ms, error after N ms, or never) and the
reader of results, decisions and the dead-letter topic (a :class:`Collector`). Scripting the runners
is what lets a test say "the champion always errors" or "the champion is always late" exactly.

The harness itself talks to Kafka with confluent-kafka whatever the worker under test uses: it
stands for external clients, and librdkafka keeps its own timing noise out of the measurements.
"""

from __future__ import annotations

import heapq
import os
import re
import signal
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.codec import decode, decode_decisions, encode
from contracts.config import DeploymentSpec, ServiceConfig
from contracts.kafka import (
    Consumer,
    KafkaSettings,
    Producer,
    TopicPartition,
    make_admin,
    make_consumer,
    make_producer,
)
from contracts.messages import DeadLetter, Decision, Request, Result, Score
from contracts.topics import CONFIG_TOPIC, DLQ_TOPIC, ServiceTopics, config_key, service_topics
from contracts.topology import platform_topics, service_topic_specs
from tests.kafka_auth import kafka_settings, worker_env
from tests.piped_process import PipedProcess

REPO = Path(__file__).resolve().parents[3]
PARTITIONS = 4
DLQ_PARTITIONS = 4

Plan = Mapping[str, Mapping[str, Any]]  # model -> {"status": "ok" | "error", "after_ms": float}


def ok(after_ms: float = 0.0) -> dict[str, Any]:
    """The model answers ``ok`` this long after the request was sent."""
    return {"status": "ok", "after_ms": after_ms}


def error(after_ms: float = 0.0) -> dict[str, Any]:
    return {"status": "error", "after_ms": after_ms}


def deployment(model: str, role: str, *, version: int = 1, weight: int = 0, rank: int = 0) -> DeploymentSpec:
    return DeploymentSpec(
        model=model, version=version, role=role, weight=weight, rank=rank,
        format="skops", sha256="0" * 64, artifact_url="file:///dev/null",
    )


def output_of(model: str, request_id: str) -> dict[str, Any]:
    """What a scripted model answers: enough to tell which model's answer a Result carries."""
    return {"label": f"from-{model}", "request_id": request_id}


def make_score(
    config: ServiceConfig, model: str, request_id: str, *, status: str = "ok", latency_ms: float = 1.0
) -> Score:
    spec = next(d for d in config.deployments if d.model == model)
    return Score(
        request_id=request_id, tenant=config.tenant, service=config.service, model=spec.model,
        version=spec.version, role=spec.role, status=status,  # type: ignore[arg-type]
        output=output_of(model, request_id) if status == "ok" else None,
        error=None if status == "ok" else f"{model} failed on purpose",
        latency_ms=latency_ms, runner="fake-runner", scored_at=time.time(),
    )


def _assign_at_end(consumer: Consumer, topics: list[tuple[str, int]]) -> None:
    """Assign at the current high watermarks, resolved now: nothing produced after this is missed."""
    parts = [
        TopicPartition(topic, p, consumer.watermarks(topic, p)[1])
        for topic, count in topics for p in range(count)
    ]
    consumer.assign(parts)


class FakeRunner:
    """Reads the requests topic group-less and answers every request as its ``plan`` says."""

    def __init__(self, settings: KafkaSettings, config: ServiceConfig, topics: ServiceTopics) -> None:
        self._config = config
        self._topics = topics
        self._producer = make_producer(settings)
        self._consumer = make_consumer(settings)
        _assign_at_end(self._consumer, [(topics.requests, config.partitions)])
        self._due: list[tuple[float, int, Score, int]] = []  # (when, tie, score, partition)
        self._tie = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-runner", daemon=True)
        self.requests_seen = 0
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            while self._due and self._due[0][0] <= now:
                _, _, score, partition = heapq.heappop(self._due)
                score.scored_at = time.time()
                self._producer.produce(
                    self._topics.scores, encode(score), key=score.request_id.encode(), partition=partition
                )
            wait = 0.02 if not self._due else max(0.0, min(0.02, self._due[0][0] - time.time()))
            record = self._consumer.poll(wait)
            while record is not None:
                if record.value is not None:
                    self._schedule(record.value, record.partition)
                record = self._consumer.poll(0)
            self._producer.poll(0)
        self._producer.flush(5)
        self._consumer.close()

    def _schedule(self, value: bytes, partition: int) -> None:
        try:
            request = decode(Request, value)
        except ValueError:
            return  # poison records are the worker's problem; a runner dead-letters them elsewhere
        self.requests_seen += 1
        plan: Plan = request.inputs.get("plan", {})
        for model, behaviour in plan.items():
            score = make_score(self._config, model, request.request_id, status=behaviour["status"])
            when = request.sent_at + float(behaviour["after_ms"]) / 1000.0
            score.latency_ms = max(0.0, (when - request.sent_at) * 1000.0)
            self._tie += 1
            heapq.heappush(self._due, (when, self._tie, score, partition))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


@dataclass(frozen=True, slots=True)
class Received:
    """A record as the test read it: ``timestamp`` is the record's own (producer create) time."""

    message: Any
    partition: int
    timestamp: float
    received_at: float


@dataclass
class Inbox:
    results: dict[str, list[Received]] = field(default_factory=lambda: defaultdict(list))
    decisions: dict[str, list[Received]] = field(default_factory=lambda: defaultdict(list))
    dead_letters: list[DeadLetter] = field(default_factory=list)


class Collector:
    """Reads the service's results and decisions, and ``rdv.dlq``, from the moment it starts."""

    def __init__(self, settings: KafkaSettings, config: ServiceConfig, topics: ServiceTopics) -> None:
        self._topics = topics
        self._consumer = make_consumer(settings)
        _assign_at_end(
            self._consumer,
            [(topics.results, config.partitions), (topics.decisions, config.partitions),
             (DLQ_TOPIC, DLQ_PARTITIONS)],
        )
        self._inbox = Inbox()
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="collector", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            record = self._consumer.poll(0.05)
            if record is None or record.value is None:
                continue
            received_at = time.time()
            with self._changed:
                if record.topic == self._topics.results:
                    result = decode(Result, record.value)
                    self._inbox.results[result.request_id].append(
                        Received(result, record.partition, record.timestamp_ms / 1000.0, received_at)
                    )
                elif record.topic == self._topics.decisions:
                    for decision in decode_decisions(record.value):  # a DecisionBatch
                        self._inbox.decisions[decision.request_id].append(
                            Received(decision, record.partition, record.timestamp_ms / 1000.0, received_at)
                        )
                else:
                    self._inbox.dead_letters.append(decode(DeadLetter, record.value))
                self._changed.notify_all()
        self._consumer.close()

    def wait_until(self, predicate: Callable[[Inbox], bool], timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self._inbox), timeout)

    def results(self, request_id: str) -> list[Received]:
        with self._changed:
            return list(self._inbox.results.get(request_id, []))

    def decisions(self, request_id: str) -> list[Received]:
        with self._changed:
            return list(self._inbox.decisions.get(request_id, []))

    def dead_letters(self) -> list[DeadLetter]:
        with self._changed:
            return list(self._inbox.dead_letters)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def rendezvous_ready(line: str) -> bool:
    return line.startswith("[rendezvous ") and line.rstrip().endswith(" ready")


class WorkerProcess(PipedProcess):
    """One ``python -m rendezvous_worker``; its output is kept for failure messages."""

    def __init__(self, env: Mapping[str, str], name: str) -> None:
        self.name = name
        environment = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **env}
        super().__init__("rendezvous_worker", environment, rendezvous_ready)

    def wait_ready(self, timeout: float = 30.0) -> None:
        if not self.ready.wait(timeout):
            raise AssertionError(f"rendezvous {self.name} never became ready:\n{self.output()}")

    def assigned_partitions(self) -> int:
        """How many partitions the last rebalance gave it (from its log)."""
        counts = [int(m.group(1)) for line in self.lines if (m := re.search(r"assigned (\d+) partitions", line))]
        return counts[-1] if counts else 0

    def output(self, last: int = 60) -> str:
        # Other tests on the same broker come and go; their missing topics are noise here.
        lines = [line for line in self.lines if "not found in cluster metadata" not in line]
        return f"--- {self.name} ---\n" + "\n".join(lines[-last:])

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)



class ServiceUnderTest:
    """One tenant/service of its own (topics, config snapshot), its scripted runners and a reader.

    Workers are started with :meth:`start_worker` once everything else is in place, so a worker's
    ``ready`` line means it owns the service's partitions.
    """

    def __init__(
        self,
        bootstrap: str,
        client: str,
        deployments: tuple[DeploymentSpec, ...],
        *,
        deadline_ms: int = 1000,
        grace_ms: int = 300,
    ) -> None:
        suffix = uuid.uuid4().hex[:10]
        self.client = client
        self.tenant, self.service = f"it-{suffix}", "svc"
        self.group = f"rdv-rendezvous-it-{suffix}"  # the rendezvous principal joins rdv-rendezvous* groups
        self.topics = service_topics(self.tenant, self.service)
        self.settings = kafka_settings(bootstrap)
        self.worker_env = {**worker_env("rendezvous"), "RDV_KAFKA_BOOTSTRAP": bootstrap, "RDV_KAFKA_CLIENT": client,
                           "RDV_RENDEZVOUS_GROUP": self.group}
        self.config = ServiceConfig(
            tenant=self.tenant, service=self.service, revision=1, deadline_ms=deadline_ms,
            partitions=PARTITIONS, deployments=deployments, grace_ms=grace_ms, published_at=time.time(),
        )
        admin = make_admin(self.settings)
        admin.ensure_topics(platform_topics())
        admin.ensure_topics(service_topic_specs(self.tenant, self.service, PARTITIONS))
        admin.close()
        self.producer: Producer = make_producer(self.settings)
        self.producer.produce(CONFIG_TOPIC, encode(self.config), key=config_key(self.tenant, self.service).encode())
        self.producer.flush(10)
        self.runner = FakeRunner(self.settings, self.config, self.topics)
        self.collector = Collector(self.settings, self.config, self.topics)
        self.workers: list[WorkerProcess] = []
        self._sent = 0

    def start_worker(self, **env: str) -> WorkerProcess:
        worker = WorkerProcess(
            {**self.worker_env, "RDV_INSTANCE_ID": f"{self.group}-{len(self.workers)}", **env},
            name=f"{self.client} #{len(self.workers)}",
        )
        self.workers.append(worker)
        worker.wait_ready()
        return worker

    def output(self) -> str:
        return "\n".join(w.output() for w in self.workers)

    def warm_up(self, plan: Plan, *, quick_s: float = 0.1, within_s: float = 15.0) -> None:
        """Rounds of one request per partition until two rounds in a row are answered quickly.

        A new consumer group starts from the earliest offset of every service on the broker, so on a
        broker that other tests have used, a fresh worker first reads (and skips) their old records.
        Timing is only measured once that is behind it and every client is connected.
        """
        quick_rounds, give_up = 0, time.monotonic() + within_s
        while quick_rounds < 2 and time.monotonic() < give_up:
            requests = [self.send(plan, partition=p, deadline_ms=5000) for p in range(PARTITIONS)]
            slowest = max(self.result(r.request_id, timeout=20).timestamp - r.sent_at for r in requests)
            quick_rounds = quick_rounds + 1 if slowest < quick_s else 0

    # -- the client's side ---------------------------------------------------------------------

    def send(
        self,
        plan: Plan,
        *,
        deadline_ms: int | None = None,
        partition: int | None = None,
        user_key: str | None = None,
        request_id: str | None = None,
        flush: bool = True,
    ) -> Request:
        """Produce one request now (``sent_at`` is stamped right before it is produced)."""
        self._sent += 1
        request = Request(
            request_id=request_id or f"{self.tenant}-{self._sent}-{uuid.uuid4().hex[:6]}",
            tenant=self.tenant, service=self.service, user_key=user_key,
            sent_at=time.time(), deadline_ms=deadline_ms or self.config.deadline_ms,
            config_revision=self.config.revision, inputs={"x": 1.0, "plan": dict(plan)},
        )
        self.producer.produce(
            self.topics.requests, encode(request), key=request.request_id.encode(),
            partition=self._sent % PARTITIONS if partition is None else partition,
        )
        if flush:
            self.producer.flush(10)
        return request

    def produce_raw(self, topic: str, value: bytes, *, key: bytes, partition: int) -> None:
        self.producer.produce(topic, value, key=key, partition=partition)
        self.producer.flush(10)

    def result(self, request_id: str, timeout: float = 10.0) -> Received:
        if not self.collector.wait_until(lambda inbox: bool(inbox.results.get(request_id)), timeout):
            raise AssertionError(f"no result for {request_id} within {timeout} s\n{self.output()}")
        return self.collector.results(request_id)[0]

    def decision(self, request_id: str, timeout: float = 10.0) -> Decision:
        if not self.collector.wait_until(lambda inbox: bool(inbox.decisions.get(request_id)), timeout):
            raise AssertionError(f"no decision for {request_id} within {timeout} s\n{self.output()}")
        return self.collector.decisions(request_id)[0].message

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.runner.stop()
        self.collector.stop()
        self.producer.produce(CONFIG_TOPIC, None, key=config_key(self.tenant, self.service).encode())
        self.producer.flush(10)
        admin = make_admin(self.settings)
        admin.delete_topics(self.topics.all())
        admin.close()
