"""Deadline adherence, Kafka-direct: does every request get its answer by its deadline when the model
that should answer never does?

Services from ``manage.py rdv_bench_seed`` (both with a 100 ms deadline):
- ``late``: the champion is deployed in a pool no runner serves; a fallback in the default pool
  scores. Until the champion is demoted (DemotionRules: 20 misses) the fallback answers at the
  deadline (reason ``deadline``); after that it answers at once (reason ``demoted``). The rendezvous
  remembers the demotion, so run *n* > 1 drives ``late-n``, a copy whose champion is not demoted yet
  (the seed creates ``late-2`` and ``late-3``); its figures are reported as ``late``.
- ``mute``: nothing scores; every answer is a ``timeout`` sent by the deadline timer.

Reports, per service: the share of answers within the deadline and within deadline + 10 ms, the
reasons, and for answers the deadline decided, how long after the deadline they arrived (p50/p99).

    python -m bench.deadline --services late,mute --rate 200 --seconds 10 --runs 1
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from bench import kafka_load
from bench.stats import median, percentile
from contracts.kafka import KafkaSettings

DEADLINE_REASONS = {"deadline", "timeout"}
# Services whose deadline path lasts one run (a demotion ends it): run n > 1 drives ``<service>-<n>``.
FRESH_PER_RUN = {"late"}


def service_for_run(service: str, run: int) -> str:
    return f"{service}-{run}" if service in FRESH_PER_RUN and run > 1 else service


def measure(settings: KafkaSettings, *, tenant: str, service: str, rate: float, seconds: float,
            driven: str | None = None) -> dict[str, Any]:
    """``driven``: the service actually loaded (a fresh copy of ``service``), reported as ``service``."""
    # No warm-up: the first requests are the only ones of ``late`` that reach the deadline path.
    load = kafka_load.run(settings, tenant=tenant, service=driven or service, rate=rate, seconds=seconds, warmup=0.0)
    report = load.summary()
    report["service"] = f"{tenant}/{service}"
    report["driven"] = f"{tenant}/{driven or service}"
    by_reason: dict[str, list[float]] = {}
    for latency_ms, answer in load.samples():
        by_reason.setdefault(answer.reason, []).append(latency_ms)
    report["by_reason"] = {
        reason: {
            "count": len(latencies),
            "p50_ms": round(percentile(latencies, 50), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
        }
        for reason, latencies in sorted(by_reason.items())
    }
    after = [lat - load.deadline_ms for reason, lats in by_reason.items() if reason in DEADLINE_REASONS
             for lat in lats]
    report["deadline_decided"] = len(after)
    report["after_deadline_p50_ms"] = round(percentile(after, 50), 2)
    report["after_deadline_p99_ms"] = round(percentile(after, 99), 2)
    report["loadavg"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return report


def _line(r: dict[str, Any]) -> str:
    reasons = ", ".join(f"{k} {v['count']} (p50 {v['p50_ms']:.1f} / p99 {v['p99_ms']:.1f} ms)"
                        for k, v in r["by_reason"].items())
    return (f"{r['service']:>12}: {r['answered']}/{r['sent']} answered, within deadline {r['within_deadline']:.3f}, "
            f"within deadline+10 ms {r['within_deadline_slack']:.3f}; answers decided by the deadline arrive "
            f"p50 {r['after_deadline_p50_ms']:+.1f} / p99 {r['after_deadline_p99_ms']:+.1f} ms after it; "
            f"reasons: {reasons}  [{r['loadavg']}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenant", default="bench")
    parser.add_argument("--services", default="late,mute")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args(argv)
    settings = KafkaSettings.from_env()
    services = args.services.split(",")
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in services}
    print(f"\ndeadline adherence at {args.rate:.0f} req/s for {args.seconds:.0f} s, {args.runs} run(s)", flush=True)
    for number in range(1, args.runs + 1):
        for service in services:
            report = measure(settings, tenant=args.tenant, service=service, rate=args.rate, seconds=args.seconds,
                             driven=service_for_run(service, number))
            runs[service].append(report)
            print(f"run {number} {_line(report)}", flush=True)
            time.sleep(1.0)
    summary = {}
    for service, reports in runs.items():
        summary[service] = {
            key: median([r[key] for r in reports])
            for key in ("within_deadline", "within_deadline_slack", "p50_ms", "p99_ms",
                        "after_deadline_p50_ms", "after_deadline_p99_ms")
        }
        s = summary[service]
        print(f"median {service}: within deadline {s['within_deadline']:.3f}, within +10 ms "
              f"{s['within_deadline_slack']:.3f}, p50 {s['p50_ms']:.1f} / p99 {s['p99_ms']:.1f} ms; "
              f"deadline-decided answers p50 {s['after_deadline_p50_ms']:+.1f} / p99 "
              f"{s['after_deadline_p99_ms']:+.1f} ms after the deadline")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "client": settings.client, "rate": args.rate,
              "seconds": args.seconds, "runs": runs, "median": summary}
    (out / f"deadline-{int(time.time())}.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
