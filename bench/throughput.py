"""Highest sustained throughput with three models per request, Kafka-direct (no gateway).

Steps the offered load against a service whose every request is scored by three model versions
(``bench/three`` from ``manage.py rdv_bench_seed``). A step is *sustained* when at least 99 % of its
measured requests are answered ``ok`` within the deadline and the p99 end-to-end latency is below
the deadline; the sweep stops at the first step that is not. The raw three-hop Kafka pipeline
(bench/raw_pipeline.py) runs at the highest sustained rate, and at the first failing one, as the
side-by-side floor on the same broker.

    python -m bench.throughput --rates 250,500,1000,1500,2000,2500 --seconds 8 --warmup 2 --runs 1 \
        [--watch runner=PID,rendezvous=PID,broker=PID]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from bench import kafka_load, raw_pipeline
from bench.cpu import CpuWatch
from bench.stats import median
from contracts.kafka import KafkaSettings

SUSTAINED_SHARE = 0.99


def sustained(step: dict[str, Any]) -> bool:
    return step["ok_within_deadline"] >= SUSTAINED_SHARE and step["p99_ms"] < step["deadline_ms"]


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def sweep(
    settings: KafkaSettings,
    *,
    tenant: str,
    service: str,
    rates: list[float],
    seconds: float,
    warmup: float,
    watch: CpuWatch,
    pause_s: float,
) -> list[dict[str, Any]]:
    config = kafka_load.service_config(settings, tenant, service)
    steps: list[dict[str, Any]] = []
    for rate in rates:
        window: dict[str, Any] = {}

        def phase(name: str, window: dict[str, Any] = window) -> None:
            if name == "measuring":
                window["before"] = watch.sample()
            elif name == "sent" and "before" in window:
                window["cpu"] = watch.percent_since(window["before"])

        load = kafka_load.run(settings, tenant=tenant, service=service, rate=rate, seconds=seconds,
                              warmup=warmup, config=config, on_phase=phase)
        step = {**load.summary(), "cpu_percent": window.get("cpu", {}), "loadavg": load_average()}
        step["sustained"] = sustained(step)
        steps.append(step)
        print(_row(step), flush=True)
        if not step["sustained"]:
            break
        time.sleep(pause_s)  # let the platform settle (commits, grace periods) before the next step
    return steps


HEADER = (f"{'offered':>8}{'sent/s':>9}{'answered':>10}{'ok<=dl':>8}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'ok':>4}  cpu % (measured window)  load")


def _row(step: dict[str, Any]) -> str:
    cpu = " ".join(f"{k}={v:.0f}" for k, v in step["cpu_percent"].items())
    mark = "yes" if step["sustained"] else "NO"
    answered = f"{step['answered']}/{step['sent']}"
    return (f"{step['rate']:>8.0f}{step['send_rate']:>9.0f}{answered:>10}{step['ok_within_deadline']:>8.3f}"
            f"{step['p50_ms']:>9.1f}{step['p99_ms']:>9.1f}{mark:>4}  {cpu}  [{step['loadavg']}]")


def raw_reference(settings: KafkaSettings, rate: float, seconds: float, warmup: float) -> dict[str, Any]:
    raw = raw_pipeline.run(settings, rate=rate, seconds=seconds, warmup=warmup, stages=2)
    raw["loadavg"] = load_average()
    print(f"  raw 3-hop Kafka at {rate:.0f} msg/s: p50 {raw['p50_ms']:.1f} ms, p99 {raw['p99_ms']:.1f} ms, "
          f"lost {raw['lost']}  [{raw['loadavg']}]", flush=True)
    return raw


def latency_pair(settings: KafkaSettings, *, tenant: str, service: str, rate: float, seconds: float,
                 warmup: float) -> dict[str, Any]:
    """Kafka-direct through the platform and the raw three-hop pipeline at the same low rate, one right
    after the other on the same broker: the latency Rendezvous adds below saturation (issue 15: p50 at
    most 1.5x, p99 at most 2x the raw pipeline's at 200 req/s)."""
    load = kafka_load.run(settings, tenant=tenant, service=service, rate=rate, seconds=seconds, warmup=warmup)
    ours = {**load.summary(), "loadavg": load_average()}
    raw = raw_pipeline.run(settings, rate=rate, seconds=seconds, warmup=warmup, stages=2)
    raw["loadavg"] = load_average()
    pair = {"rate": rate, "rendezvous": ours, "raw": raw,
            "ratio_p50": ours["p50_ms"] / raw["p50_ms"], "ratio_p99": ours["p99_ms"] / raw["p99_ms"]}
    print(f"  at {rate:.0f} req/s: Kafka-direct p50 {ours['p50_ms']:.1f} / p99 {ours['p99_ms']:.1f} ms "
          f"[{ours['loadavg']}], raw 3-hop p50 {raw['p50_ms']:.1f} / p99 {raw['p99_ms']:.1f} ms [{raw['loadavg']}]: "
          f"ratio {pair['ratio_p50']:.2f} / {pair['ratio_p99']:.2f}", flush=True)
    return pair


def prewarm(settings: KafkaSettings, *, tenant: str, service: str, rate: float, seconds: float) -> None:
    """Unmeasured load through the whole platform before the first step.

    The benchmarks start a fresh broker, and for its first ~25 s of traffic the JVM's C2 compiler takes
    40-65 % of a core (per-thread CPU of the broker, sampled from /proc): on 2 cores that alone made the
    first steps fail. A broker in production has been up for days, so the sweep measures a warm one.
    """
    if seconds <= 0:
        return
    print(f"pre-warming the broker and the platform: {rate:.0f} req/s for {seconds:.0f} s (not measured)",
          flush=True)
    load = kafka_load.run(settings, tenant=tenant, service=service, rate=rate, seconds=seconds, warmup=0)
    summary = load.summary()
    print(f"  pre-warm: {summary['answered']}/{summary['sent']} answered, p50 {summary['p50_ms']:.1f} ms, "
          f"p99 {summary['p99_ms']:.1f} ms  [{load_average()}]", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenant", default="bench")
    parser.add_argument("--service", default="three")
    parser.add_argument("--rates", default="250,500,1000,1500,2000,2500")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds sent before each step, not measured")
    parser.add_argument("--prewarm", type=float, default=30.0,
                        help="seconds of unmeasured load before the first sweep (see prewarm())")
    parser.add_argument("--prewarm-rate", type=float, default=250.0)
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between steps")
    parser.add_argument("--runs", type=int, default=1, help="whole sweeps; the report takes medians")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw pipeline reference")
    parser.add_argument("--latency-rate", type=float, default=200.0,
                        help="per sweep, Kafka-direct and the raw pipeline at this rate, for their latency ratio "
                             "(0: skip)")
    parser.add_argument("--watch", help="name=pid,… processes whose CPU use is reported per step")
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args(argv)
    settings = KafkaSettings.from_env()
    rates = [float(r) for r in args.rates.split(",")]
    watch = CpuWatch.parse(args.watch)
    watch.pids.setdefault("client", os.getpid())  # this process: the load generator itself
    prewarm(settings, tenant=args.tenant, service=args.service, rate=args.prewarm_rate, seconds=args.prewarm)
    runs = []
    for number in range(1, args.runs + 1):
        print(f"\nsweep {number}/{args.runs}: {args.tenant}/{args.service}, {args.seconds:.0f} s per step "
              f"after {args.warmup:.0f} s warm-up, sustained = ok within deadline >= {SUSTAINED_SHARE:.0%} "
              f"and p99 < deadline", flush=True)
        print(HEADER, flush=True)
        steps = sweep(settings, tenant=args.tenant, service=args.service, rates=rates, seconds=args.seconds,
                      warmup=args.warmup, watch=watch, pause_s=args.pause)
        passed = [s for s in steps if s["sustained"]]
        highest = passed[-1]["rate"] if passed else 0.0
        failing = None if steps[-1]["sustained"] else steps[-1]["rate"]
        print(f"highest sustained: {highest:.0f} req/s" + (f" (first failing step {failing:.0f})" if failing else
                                                           " (every step passed)"), flush=True)
        raw: dict[str, Any] = {}
        if not args.no_raw:
            for rate in {highest, failing} - {None, 0.0}:
                raw[str(int(rate))] = raw_reference(settings, rate, args.seconds, args.warmup)
        pair = None
        if not args.no_raw and args.latency_rate > 0:
            pair = latency_pair(settings, tenant=args.tenant, service=args.service, rate=args.latency_rate,
                                seconds=args.seconds, warmup=args.warmup)
        runs.append({"steps": steps, "highest": highest, "failing": failing, "raw": raw, "latency_pair": pair})

    highest = median([r["highest"] for r in runs])
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}",
        "client": settings.client,
        "service": f"{args.tenant}/{args.service}",
        "seconds": args.seconds,
        "warmup": args.warmup,
        "prewarm": {"seconds": args.prewarm, "rate": args.prewarm_rate},
        "linger_ms": settings.linger_ms,
        "runs": runs,
        "highest_sustained_median": highest,
        "highest_sustained_each": [r["highest"] for r in runs],
        "loadavg_end": load_average(),
    }
    # Medians, per rate, of the steps every run reached.
    by_rate: dict[float, list[dict[str, Any]]] = {}
    for r in runs:
        for step in r["steps"]:
            by_rate.setdefault(step["rate"], []).append(step)
    print(f"\nsummary over {args.runs} sweep(s) (medians per step)")
    print(f"{'offered':>8}{'runs':>6}{'ok<=dl':>8}{'p50 ms':>9}{'p99 ms':>9}{'sustained':>11}")
    for rate, steps in sorted(by_rate.items()):
        print(f"{rate:>8.0f}{len(steps):>6}{median([s['ok_within_deadline'] for s in steps]):>8.3f}"
              f"{median([s['p50_ms'] for s in steps]):>9.1f}{median([s['p99_ms'] for s in steps]):>9.1f}"
              f"{sum(s['sustained'] for s in steps):>7}/{len(steps)}")
    print(f"highest sustained throughput, three models per request: {highest:.0f} req/s "
          f"(median of {args.runs}: {report['highest_sustained_each']})")
    raws = [raw for r in runs for raw in r["raw"].values() if raw["rate"] == r["highest"]]
    if raws:
        p50 = median([raw["p50_ms"] for raw in raws])
        p99 = median([raw["p99_ms"] for raw in raws])
        ours = [s for r in runs for s in r["steps"] if s["rate"] == r["highest"]]
        ours_p50 = median([s["p50_ms"] for s in ours])
        ours_p99 = median([s["p99_ms"] for s in ours])
        report["at_highest"] = {"rendezvous_p50_ms": ours_p50, "rendezvous_p99_ms": ours_p99,
                                "raw_p50_ms": p50, "raw_p99_ms": p99}
        print(f"at the highest sustained rate: rendezvous p50 {ours_p50:.1f} / p99 {ours_p99:.1f} ms, "
              f"raw 3-hop p50 {p50:.1f} / p99 {p99:.1f} ms, ratio {ours_p50 / p50:.2f} / {ours_p99 / p99:.2f}")
    pairs = [r["latency_pair"] for r in runs if r.get("latency_pair")]
    if pairs:
        low = {
            "rate": pairs[0]["rate"],
            "rendezvous_p50_ms": median([p["rendezvous"]["p50_ms"] for p in pairs]),
            "rendezvous_p99_ms": median([p["rendezvous"]["p99_ms"] for p in pairs]),
            "raw_p50_ms": median([p["raw"]["p50_ms"] for p in pairs]),
            "raw_p99_ms": median([p["raw"]["p99_ms"] for p in pairs]),
            "ratio_p50_each": [round(p["ratio_p50"], 2) for p in pairs],
            "ratio_p99_each": [round(p["ratio_p99"], 2) for p in pairs],
        }
        report["latency_pair"] = low
        print(f"at {low['rate']:.0f} req/s (medians of {len(pairs)}): Kafka-direct p50 "
              f"{low['rendezvous_p50_ms']:.1f} / p99 {low['rendezvous_p99_ms']:.1f} ms, raw 3-hop p50 "
              f"{low['raw_p50_ms']:.1f} / p99 {low['raw_p99_ms']:.1f} ms; ratios per sweep "
              f"p50 {low['ratio_p50_each']}, p99 {low['ratio_p99_each']}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"throughput-{int(time.time())}.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
