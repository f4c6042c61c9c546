"""How long a routing change takes to reach every worker: acceptance "p99 under 1 s".

Each change is a ``PUT …/deployments`` through the control plane's API (alternating two routings of the
same service). The time it reached a worker is that worker's own ``applied_at`` for the new revision, read
from the status reports on ``rdv.status`` (same machine, same clock): the moment the worker started to run
on it. Per change the figure is the *last* worker's ``applied_at`` minus the moment the API call started,
so it includes the API's database write, the broker's acknowledgement, and every worker's follower and loop.
Changes are sequential: the next one starts once every worker applied the previous one, plus a short pause.

    python -m bench.propagation --url http://127.0.0.1:8000 --token "$(cat .run/bench-token)" --workers 4
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import httpx

from bench.stats import median, percentile
from contracts.codec import DecodeError, decode
from contracts.kafka import Consumer, KafkaSettings, TopicPartition, make_consumer
from contracts.messages import WorkerStatus
from contracts.topics import STATUS_TOPIC, config_key

ROUTINGS = [
    [
        {"model": "iris", "version": 1, "role": "champion"},
        {"model": "iris", "version": 2, "role": "fallback", "rank": 1},
        {"model": "iris", "version": 3, "role": "challenger"},
    ],
    [
        {"model": "iris", "version": 2, "role": "champion"},
        {"model": "iris", "version": 1, "role": "fallback", "rank": 1},
        {"model": "iris", "version": 3, "role": "challenger"},
    ],
]


class StatusWatch:
    """Every status report since the watch started, group-less, read as it arrives."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._consumer: Consumer = make_consumer(settings, group_id=None)
        partitions = range(4)
        ends = [self._consumer.watermarks(STATUS_TOPIC, p)[1] for p in partitions]
        self._consumer.assign([TopicPartition(STATUS_TOPIC, p, end) for p, end in zip(partitions, ends, strict=True)])
        self.latest: dict[str, WorkerStatus] = {}

    def read(self, wait: float) -> None:
        record = self._consumer.poll(wait)
        while record is not None:
            try:
                status = decode(WorkerStatus, record.value or b"")
            except DecodeError:
                status = None
            if status is not None:
                self.latest[status.worker] = status
            record = self._consumer.poll(0)

    def close(self) -> None:
        self._consumer.close()


def wait_for_workers(watch: StatusWatch, count: int, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while len(watch.latest) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {sorted(watch.latest)} reported within {timeout:g} s; expected {count} workers")
        watch.read(0.5)
    return sorted(watch.latest)


def one_change(client: httpx.Client, url: str, watch: StatusWatch, workers: list[str], key: str, index: int,
               timeout: float) -> dict[str, float]:
    started = time.time()
    response = client.put(url, json={"deployments": ROUTINGS[index % 2]})
    answered = time.time()
    response.raise_for_status()
    revision = response.json()["revision"]
    deadline = time.monotonic() + timeout
    applied: dict[str, float] = {}
    seen: dict[str, float] = {}
    while len(applied) < len(workers):
        if time.monotonic() > deadline:
            missing = sorted(set(workers) - set(applied))
            raise SystemExit(f"revision {revision} not applied by {missing} within {timeout:g} s")
        watch.read(0.05)
        for worker in workers:
            status = watch.latest.get(worker)
            current = status.revisions.get(key) if status is not None else None
            if worker not in applied and current is not None and current.revision >= revision:
                applied[worker] = current.applied_at
                seen[worker] = time.time()
    last = max(applied.values())
    return {
        "revision": revision,
        "api_ms": (answered - started) * 1000,
        "all_applied_ms": (last - started) * 1000,
        "after_answer_ms": (last - answered) * 1000,
        "first_applied_ms": (min(applied.values()) - started) * 1000,
        "reported_ms": (max(seen.values()) - started) * 1000,
    }


def summarise(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 50), "p99": percentile(values, 99), "max": max(values)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True)
    parser.add_argument("--tenant", default="bench")
    parser.add_argument("--service", default="three")
    parser.add_argument("--workers", type=int, required=True, help="runners + rendezvous workers to wait for")
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between changes")
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args(argv)
    settings = KafkaSettings.from_env()
    key = config_key(args.tenant, args.service)
    url = f"{args.url}/api/v1/tenants/{args.tenant}/services/{args.service}/deployments"
    watch = StatusWatch(settings)
    runs = []
    try:
        workers = wait_for_workers(watch, args.workers, 30)
        print(f"[propagation] {len(workers)} workers report: {', '.join(workers)}", flush=True)
        with httpx.Client(headers={"Authorization": f"Bearer {args.token}"}, timeout=30) as client:
            one_change(client, url, watch, workers, key, 1, 30)  # warm-up: connections, caches
            for run in range(1, args.runs + 1):
                load_before = os.getloadavg()
                changes = []
                for index in range(args.changes):
                    changes.append(one_change(client, url, watch, workers, key, index, 30))
                    time.sleep(args.pause)
                figures = {name: summarise([c[name] for c in changes])
                           for name in ("all_applied_ms", "api_ms", "after_answer_ms", "first_applied_ms",
                                        "reported_ms")}
                figures["load_before"] = load_before
                figures["load_after"] = os.getloadavg()
                runs.append({"figures": figures, "changes": changes})
                applied = figures["all_applied_ms"]
                print(f"run {run}: {args.changes} changes, every worker applied p50 {applied['p50']:.1f} "
                      f"p99 {applied['p99']:.1f} max {applied['max']:.1f} ms (API call p50 "
                      f"{figures['api_ms']['p50']:.1f} ms); load {load_before[0]:.1f} -> "
                      f"{figures['load_after'][0]:.1f}", flush=True)
    finally:
        watch.close()
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": f"{platform.machine()} {platform.python_version()} {os.cpu_count()} cpus",
        "client": settings.client,
        "workers": args.workers,
        "changes": args.changes,
        "runs": [r["figures"] for r in runs],
        "median": {
            name: {stat: median([r["figures"][name][stat] for r in runs]) for stat in ("p50", "p99", "max")}
            for name in ("all_applied_ms", "api_ms", "after_answer_ms", "first_applied_ms", "reported_ms")
        },
    }
    print()
    print(f"medians of {len(runs)} runs ({args.changes} changes each, {args.workers} workers), ms:")
    print(f"{'':36}{'p50':>9}{'p99':>9}{'max':>9}")
    labels = {
        "all_applied_ms": "API call -> every worker applied",
        "api_ms": "API call -> API answered",
        "after_answer_ms": "API answered -> every worker applied",
        "first_applied_ms": "API call -> first worker applied",
        "reported_ms": "API call -> last report read",
    }
    for name, label in labels.items():
        row = report["median"][name]
        print(f"{label:36}{row['p50']:>9.1f}{row['p99']:>9.1f}{row['max']:>9.1f}")
    verdict = "met" if report["median"]["all_applied_ms"]["p99"] < 1000 else "NOT met"
    print(f"target p99 < 1000 ms: {verdict}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"propagation-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({**report, "changes_detail": [r["changes"] for r in runs]}, indent=1))
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
