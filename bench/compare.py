"""Side by side in one run: HTTP predict through Rendezvous vs the raw Kafka pipeline, same broker,
same client library; medians of several runs, and their ratio.

    python -m bench.compare --url http://127.0.0.1:8000 --token "$(cat .run/demo-token)" --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
from pathlib import Path

from bench import predict_http, raw_pipeline
from bench.stats import median
from contracts.kafka import KafkaSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prewarm", type=float, default=30.0,
                        help="seconds of unmeasured raw-pipeline traffic first: the fresh broker's JIT settles")
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args(argv)
    settings = KafkaSettings.from_env()
    url = f"{args.url}/api/v1/tenants/demo/services/iris/predict"
    if args.prewarm > 0:
        print(f"pre-warming the broker: raw pipeline at {args.rate:.0f} msg/s for {args.prewarm:.0f} s", flush=True)
        raw_pipeline.run(settings, rate=args.rate, seconds=args.prewarm, warmup=0, stages=2)
    raw_runs, http_runs = [], []
    for run in range(1, args.runs + 1):
        raw = raw_pipeline.run(settings, rate=args.rate, seconds=args.seconds, warmup=args.warmup, stages=2)
        http = asyncio.run(predict_http.run(url, args.token, rate=args.rate, seconds=args.seconds,
                                            warmup=args.warmup))
        print(f"run {run}: raw p50 {raw['p50_ms']:.2f} p99 {raw['p99_ms']:.2f} ms (lost {raw['lost']}) | "
              f"predict p50 {http['p50_ms']:.2f} p99 {http['p99_ms']:.2f} ms (codes {http['codes']})", flush=True)
        raw_runs.append(raw)
        http_runs.append(http)
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": f"{platform.machine()} {platform.python_version()}",
        "client": settings.client,
        "rate": args.rate,
        "seconds": args.seconds,
        "runs": args.runs,
        "raw_p50_ms": median([r["p50_ms"] for r in raw_runs]),
        "raw_p99_ms": median([r["p99_ms"] for r in raw_runs]),
        "predict_p50_ms": median([r["p50_ms"] for r in http_runs]),
        "predict_p99_ms": median([r["p99_ms"] for r in http_runs]),
    }
    report["ratio_p50"] = report["predict_p50_ms"] / report["raw_p50_ms"]
    report["ratio_p99"] = report["predict_p99_ms"] / report["raw_p99_ms"]
    print()
    print(f"{'':24}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'raw 3-hop Kafka':24}{report['raw_p50_ms']:>10.2f}{report['raw_p99_ms']:>10.2f}")
    print(f"{'HTTP predict':24}{report['predict_p50_ms']:>10.2f}{report['predict_p99_ms']:>10.2f}")
    print(f"{'ratio predict / raw':24}{report['ratio_p50']:>10.2f}{report['ratio_p99']:>10.2f}")
    print(f"(medians of {args.runs} runs at {args.rate:.0f} req/s, client {settings.client})")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"compare-{int(time.time())}.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
