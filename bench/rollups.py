"""Roll-ups: how many decisions a second the roll-up step keeps up with, and how fast ``GET …/metrics`` answers.

1. Throughput, through Kafka with the real step: ``--decisions`` random decisions (three candidates each,
   ``--per-record`` per DecisionBatch record, as rendezvous workers write them) are written to a fresh
   service's decisions topic first; then the roll-up consumer (``RollupsConsumer``, a fresh group, in this
   process) reads them all. Decisions per second = decisions / (last one counted - partitions assigned).
   ``--runs`` runs, each on a fresh service; the median is reported with the load average.
2. The metrics endpoint: a service with ``--deployments`` deployments and 7 days of roll-ups as the
   storage holds them after 7 days (hour rows for 7 days, minute rows, rolled, for the minute retention),
   each minute's sketch built from ``--per-minute`` latencies; ``GET …/metrics?window=`` through Django's
   test client (authentication, DRF, serialisation included), ``--queries`` times per window.

    DJANGO_SETTINGS_MODULE=… python -m bench.rollups --decisions 300000 --runs 3
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

from contracts import Candidate, Decision, encode, service_topics  # noqa: E402
from contracts.kafka import make_producer  # noqa: E402
from contracts.messages import DecisionBatch  # noqa: E402
from controlplane.monitoring.consumer import BATCH_SIZE, RollupsConsumer, RollupsConsumerSettings  # noqa: E402
from controlplane.monitoring.models import RollupHour, RollupMinute  # noqa: E402
from controlplane.monitoring.sketch import LatencySketch  # noqa: E402
from controlplane.routing.models import Service  # noqa: E402
from controlplane.routing.services import service_create  # noqa: E402
from controlplane.tenancy.models import Tenant  # noqa: E402
from controlplane.tenancy.services import token_create  # noqa: E402
from streaming import collector  # noqa: E402

ROLES = ("champion", "challenger", "fallback")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _tenant() -> Tenant:
    slug = f"bench-{uuid.uuid4().hex[:6]}"
    return Tenant.objects.create(slug=slug, name=slug)


def _service(tenant: Tenant, partitions: int) -> Service:
    return service_create(tenant=tenant, slug=f"s-{uuid.uuid4().hex[:6]}", name="bench",
                          input_schema={"type": "object"}, partitions=partitions)


def _decisions(tenant: str, service: str, count: int, rng: random.Random) -> list[Decision]:
    now = time.time()
    found = []
    for index in range(count):
        candidates = [
            Candidate(model="m", version=v + 1, role=role, status="ok", output={"label": rng.randint(0, 2)},
                      latency_ms=rng.lognormvariate(math.log(6.0), 0.7))
            for v, role in enumerate(ROLES)
        ]
        found.append(Decision(
            request_id=f"r{index}", tenant=tenant, service=service, status="ok", output=candidates[0].output,
            model="m", version=1, reason="champion", latency_ms=9.0, config_revision=1, candidates=candidates,
            decided_at=now - rng.uniform(0, 120),
        ))
    return found


def throughput_run(
    decisions: int, per_record: int, partitions: int, rng: random.Random, batch_size: int = 2000
) -> dict[str, Any]:
    tenant = _tenant()
    service = _service(tenant, partitions)
    topic = service_topics(tenant.slug, service.slug).decisions
    producer = make_producer(settings.RDV_KAFKA)
    batch = _decisions(tenant.slug, service.slug, per_record * 200, rng)  # reused: content does not matter
    sent = records = 0
    while sent < decisions:
        start = (records % 200) * per_record
        chunk = batch[start:start + min(per_record, decisions - sent)]
        producer.produce(topic, encode(DecisionBatch(decisions=chunk)), key=str(records).encode())
        sent += len(chunk)
        records += 1
        if records % 1000 == 0:
            producer.flush(30)
    assert producer.flush(60) == 0
    producer.close()

    group = f"rdv-rollups-bench-{uuid.uuid4().hex[:6]}"
    consumer = RollupsConsumer(RollupsConsumerSettings.from_django(group_id=group, batch_size=batch_size))
    # The clock starts when the step is handed its first records (the group's join and the first fetch
    # are start-up, not throughput) and stops when the last decision is stored.
    first_batch: list[float] = []
    process = consumer.step.process

    def timed_process(records: Any, io: Any) -> None:
        if not first_batch:
            first_batch.append(time.monotonic())
        process(records, io)

    consumer.step.process = timed_process  # type: ignore[method-assign]
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    consumer.ready.wait(120)
    while consumer.stored < decisions:
        if not thread.is_alive():
            raise RuntimeError("the roll-up consumer stopped")
        time.sleep(0.01)
    elapsed = time.monotonic() - first_batch[0]
    consumer.stop()
    thread.join(30)
    counted = RollupMinute.objects.filter(service=service, role="champion").values_list("count", flat=True)
    assert sum(counted) == decisions, (sum(counted), decisions)
    return {"decisions": decisions, "seconds": round(elapsed, 2), "per_s": round(decisions / elapsed),
            "loadavg": load_average()}


def _sketch(rng: random.Random, values: int, median_ms: float) -> bytes:
    sketch = LatencySketch()
    for _ in range(values):
        sketch.add(rng.lognormvariate(math.log(median_ms), 0.8))
    return sketch.to_bytes()


def seed_week(deployments: int, per_minute: int, rng: random.Random) -> Service:
    """Seven days of one service's roll-ups as the storage holds them after seven days of traffic."""
    tenant = _tenant()
    service = _service(tenant, 2)
    now = datetime.now(tz=UTC).replace(second=0, microsecond=0)
    current_hour = now.replace(minute=0)
    minute_retention = timedelta(hours=settings.RDV_ROLLUP_MINUTE_RETENTION_HOURS)
    counters = {"count": per_minute, "errors": 1, "timeouts": 1, "fallbacks": 0, "wins": 0, "compared": per_minute,
                "agreed": per_minute - 2}
    # A handful of distinct sketches per deployment, reused: building 100,000 of them would take minutes.
    minute_sketches = [[_sketch(rng, per_minute, 5 + d) for _ in range(8)] for d in range(deployments)]
    hour_sketches = [[_sketch(rng, per_minute * 60, 5 + d) for _ in range(4)] for d in range(deployments)]
    hours, minutes = [], []
    for d in range(deployments):
        identity = {"service": service, "model": f"m{d // 3}", "version": d + 1, "role": ROLES[d % 3]}
        for h in range(1, 24 * 7 + 1):
            hour = current_hour - timedelta(hours=h)
            hours.append(RollupHour(**identity, hour=hour, **{k: v * 60 for k, v in counters.items()},
                                    latency=hour_sketches[d][h % 4]))
        minute = now - minute_retention
        while minute <= now:
            minutes.append(RollupMinute(**identity, minute=minute, rolled=minute < current_hour, **counters,
                                        latency=minute_sketches[d][minute.minute % 8]))
            minute += timedelta(minutes=1)
    RollupHour.objects.bulk_create(hours, batch_size=2000)
    RollupMinute.objects.bulk_create(minutes, batch_size=2000)
    return service


def query_timings(service: Service, windows: list[str], queries: int) -> dict[str, dict[str, float]]:
    _, secret = token_create(tenant=service.tenant, name="bench", scopes=["read"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    url = f"/api/v1/tenants/{service.tenant.slug}/services/{service.slug}/metrics"
    found = {}
    for window in windows:
        timings = []
        for _ in range(queries):
            started = time.perf_counter()
            response = client.get(url, {"window": window})
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content
        deployments = len(response.json()["deployments"])
        timings.sort()
        found[window] = {"median_ms": round(statistics.median(timings), 1),
                         "p95_ms": round(timings[max(0, math.ceil(0.95 * len(timings)) - 1)], 1),
                         "deployments": deployments}
        print(f"[bench] GET …/metrics?window={window}: {found[window]}", flush=True)
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=300_000)
    parser.add_argument("--per-record", type=int, default=40)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE,
                        help="records per batch (one transaction), as `consume_rollups --batch-size`")
    parser.add_argument("--deployments", type=int, default=20)
    parser.add_argument("--per-minute", type=int, default=100)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--windows", default="7d,2d,1h,15m")
    parser.add_argument("--only", choices=["throughput", "query"], help="one half of the benchmark")
    args = parser.parse_args(argv)
    rng = random.Random(16)
    collector.tune()  # as `manage.py consume_rollups` does

    runs = []
    if args.only != "query":
        print(f"[bench] roll-up throughput: {args.runs} runs of {args.decisions} decisions; load {load_average()}",
              flush=True)
    for index in range(0 if args.only == "query" else args.runs):
        run = throughput_run(args.decisions, args.per_record, args.partitions, rng, args.batch_size)
        runs.append(run)
        print(f"[bench] run {index + 1}: {run}", flush=True)
    if runs:
        print(f"[bench] median {statistics.median(r['per_s'] for r in runs):.0f} decisions/s", flush=True)
    if args.only == "throughput":
        return

    started = time.monotonic()
    service = seed_week(args.deployments, args.per_minute, rng)
    print(f"[bench] seeded 7 days x {args.deployments} deployments in {time.monotonic() - started:.0f} s "
          f"({RollupHour.objects.filter(service=service).count()} hour rows, "
          f"{RollupMinute.objects.filter(service=service).count()} minute rows)", flush=True)
    query_timings(service, args.windows.split(","), args.queries)
    print(f"[bench] done; load {load_average()}", flush=True)


if __name__ == "__main__":
    main()
