"""Kafka-direct load: Requests straight onto a service's requests topic at a fixed offered rate (open
loop: each request leaves on schedule, whatever the answers do), Results read back from the
service's results topic and matched by request id.

No gateway and no ``reply_to``: this measures the platform behind the gateway (runners and
rendezvous) the way a client that talks Kafka itself would see it. End-to-end latency is the time a
Result is read here minus the request's ``sent_at``.

    python -m bench.kafka_load --tenant bench --service three --rate 500 --seconds 8 --warmup 2
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.stats import percentile
from contracts.codec import decode, encode
from contracts.config import ServiceConfig
from contracts.kafka import KafkaSettings, TopicPartition, make_admin, make_consumer, make_producer
from contracts.messages import Request, Result
from contracts.topics import service_topics
from streaming.follower import ConfigFollower

IRIS_ROW = {"sepal_length": 5.9, "sepal_width": 3.0, "petal_length": 5.1, "petal_width": 1.8}
# Sending wakes up this often and sends every request that is due: sleeping per request would cost
# more than the requests themselves at a few thousand a second.
TICK_S = 0.001
# Slack over the deadline that still counts as "on time" (one poll of the consumer, one fetch).
DEADLINE_SLACK_MS = 10.0


@dataclass(slots=True)
class Answer:
    received_at: float
    status: str
    reason: str
    model: str | None


@dataclass
class LoadRun:
    """What was sent and what came back; ``summary()`` turns it into the reported figures."""

    tenant: str
    service: str
    rate: float
    seconds: float
    warmup: float
    deadline_ms: int
    sent_at: list[float] = field(default_factory=list)
    answers: dict[int, Answer] = field(default_factory=dict)
    duplicates: int = 0

    def measured(self) -> range:
        return range(int(self.rate * self.warmup), len(self.sent_at))

    def summary(self) -> dict[str, Any]:
        measured = self.measured()
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        on_time = on_time_slack = ok_on_time = 0
        for seq in measured:
            answer = self.answers.get(seq)
            if answer is None:
                statuses["missing"] += 1
                continue
            latency_ms = (answer.received_at - self.sent_at[seq]) * 1000.0
            latencies.append(latency_ms)
            statuses[answer.status] += 1
            reasons[answer.reason] += 1
            on_time += latency_ms <= self.deadline_ms
            on_time_slack += latency_ms <= self.deadline_ms + DEADLINE_SLACK_MS
            ok_on_time += answer.status == "ok" and latency_ms <= self.deadline_ms
        count = len(measured)
        span = self.sent_at[-1] - self.sent_at[measured.start] if count > 1 else 0.0
        return {
            "service": f"{self.tenant}/{self.service}",
            "rate": self.rate,
            "send_rate": round((count - 1) / span, 1) if span > 0 else float("nan"),
            "deadline_ms": self.deadline_ms,
            "sent": count,
            "answered": len(latencies),
            "p50_ms": round(percentile(latencies, 50), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
            "max_ms": round(max(latencies), 2) if latencies else float("nan"),
            "within_deadline": round(on_time / count, 4) if count else float("nan"),
            "within_deadline_slack": round(on_time_slack / count, 4) if count else float("nan"),
            "ok_within_deadline": round(ok_on_time / count, 4) if count else float("nan"),
            "statuses": dict(statuses),
            "reasons": dict(reasons),
            "duplicates": self.duplicates,
        }

    def samples(self) -> list[tuple[float, Answer]]:
        """(latency ms, answer) of every answered measured request, for finer analyses."""
        return [
            ((self.answers[seq].received_at - self.sent_at[seq]) * 1000.0, self.answers[seq])
            for seq in self.measured()
            if seq in self.answers
        ]


def service_config(settings: KafkaSettings, tenant: str, service: str, timeout: float = 30.0) -> ServiceConfig:
    """The live snapshot of the service, as the workers see it (deadline and revision come from it)."""
    follower = ConfigFollower(settings).start()
    try:
        if not follower.wait_ready(timeout):
            raise SystemExit("could not read rdv.config")
        config = follower.get(tenant, service)
        if config is None:
            raise SystemExit(f"service {tenant}/{service} is not in rdv.config (seed it first)")
        return config
    finally:
        follower.stop()


def run(
    settings: KafkaSettings,
    *,
    tenant: str,
    service: str,
    rate: float,
    seconds: float,
    warmup: float,
    config: ServiceConfig | None = None,
    drain_s: float = 3.0,
    on_phase: Callable[[str], None] | None = None,
) -> LoadRun:
    """Send for ``warmup + seconds`` at ``rate``; ``on_phase("measuring")`` and ``on_phase("sent")``
    mark the measured window (e.g. to sample CPU use over exactly that window)."""
    config = config or service_config(settings, tenant, service)
    topics = service_topics(tenant, service)
    admin = make_admin(settings)
    partitions = admin.partition_count(topics.results)
    admin.close()
    if partitions is None:
        raise SystemExit(f"topic {topics.results} does not exist")
    load = LoadRun(tenant, service, rate, seconds, warmup, config.deadline_ms)
    run_id = uuid.uuid4().hex[:10]
    prefix = f"{run_id}-"

    # Group-less, from the current end of every partition: only the answers to this run are read.
    consumer = make_consumer(settings, group_id=None, auto_offset_reset="latest")
    ends = [consumer.watermarks(topics.results, p)[1] for p in range(partitions)]
    consumer.assign([TopicPartition(topics.results, p, end) for p, end in enumerate(ends)])
    done = threading.Event()
    connected = threading.Event()
    warmup_id = f"warmup-{run_id}"
    total = int(rate * (seconds + warmup))

    def receive() -> None:
        while not done.is_set():
            record = consumer.poll(0.02)
            while record is not None:
                now = time.time()
                result = decode(Result, record.value or b"")
                if result.request_id == warmup_id:
                    connected.set()
                elif result.request_id.startswith(prefix):
                    seq = int(result.request_id[len(prefix):])
                    if seq in load.answers:
                        load.duplicates += 1
                    else:
                        load.answers[seq] = Answer(now, result.status, result.reason, result.model)
                record = consumer.poll(0)

    receiver = threading.Thread(target=receive, name="results", daemon=True)
    receiver.start()

    def request(request_id: str, user_key: str) -> Request:
        return Request(
            request_id=request_id,
            tenant=tenant,
            service=service,
            user_key=user_key,
            sent_at=time.time(),
            deadline_ms=config.deadline_ms,
            config_revision=config.revision,
            inputs=IRIS_ROW,
        )

    # A client that is already connected: the producer's first record waits ~0.5 s for SASL, metadata
    # and its idempotent producer id, and requests stamped meanwhile reached the platform after their
    # deadline (the first 100 requests of every bench.deadline run). One unmeasured request, answered,
    # proves the producer is connected and the results are being fetched before the clock starts.
    producer = make_producer(settings)
    producer.produce(topics.requests, encode(request(warmup_id, "warmup")), key=warmup_id.encode())
    producer.flush(10.0)
    if not connected.wait(config.deadline_ms / 1000.0 + 5.0):
        print(f"warning: no answer to the warm-up request of {tenant}/{service} within 5 s", flush=True)
    sent_at = load.sent_at
    start = time.time()
    seq = 0
    warm = int(rate * warmup)
    measuring = False
    while seq < total:
        due = min(total, int((time.time() - start) * rate) + 1)
        if not measuring and due > warm:
            measuring = True
            if on_phase is not None:
                on_phase("measuring")
        while seq < due:
            outgoing = request(f"{prefix}{seq}", f"user-{seq % 1000}")
            producer.produce(topics.requests, encode(outgoing), key=outgoing.request_id.encode())
            sent_at.append(outgoing.sent_at)
            seq += 1
        producer.poll(0)
        pause = start + seq / rate - time.time()
        time.sleep(max(TICK_S, pause) if pause > 0 else 0)
    if on_phase is not None:
        on_phase("sent")
    producer.flush(10.0)
    # Open loop: whatever has not come back a while after the last deadline counts as missing.
    wait_until = time.time() + config.deadline_ms / 1000.0 + drain_s
    while time.time() < wait_until and len(load.answers) < total:
        time.sleep(0.05)
    done.set()
    receiver.join(5.0)
    consumer.close()
    producer.close()
    return load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenant", default="bench")
    parser.add_argument("--service", default="three")
    parser.add_argument("--rate", type=float, default=500.0, help="offered load, requests per second")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured time")
    parser.add_argument("--warmup", type=float, default=2.0, help="sent first, not measured")
    args = parser.parse_args(argv)
    settings = KafkaSettings.from_env()
    load = run(settings, tenant=args.tenant, service=args.service, rate=args.rate, seconds=args.seconds,
               warmup=args.warmup)
    print(json.dumps(load.summary()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
