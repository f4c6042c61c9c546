"""What running each scoring call off the loop thread costs per micro-batch (model_runner.isolation).

Scores the same small scikit-learn models with the same micro-batches two ways, interleaved so the
machine's load hits both alike: called directly on this thread (the runner before isolation), and
handed to a worker thread and waited for under a timeout (the runner now). Reports the per-batch time
of each (median, p99) and the difference of the medians, which is the hand-off's cost.

    python -m bench.runner_handoff [--batches 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

from bench.stats import percentile
from contracts.config import DeploymentSpec
from contracts.messages import Request
from model_runner.isolation import IsolatedCalls
from model_runner.loading import LoadedModel, SklearnModel
from model_runner.scoring import Inbound, call_directly, score_version

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")


def _models() -> dict[str, LoadedModel]:
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    spec = DeploymentSpec(
        model="m", version=1, role="champion", format="skops", sha256="0" * 64, artifact_url="file:///x",
        features=FEATURES,
    )
    return {
        "logistic": SklearnModel(spec, LogisticRegression(max_iter=500).fit(X, y)),
        "forest-20": SklearnModel(spec, RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)),
    }


def _items(size: int) -> list[Inbound]:
    now = time.time()
    return [
        Inbound(
            request=Request(
                request_id=f"r{i}", tenant="t", service="s", sent_at=now, deadline_ms=60_000, config_revision=1,
                inputs={"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2},
            ),
            partition=0,
            offset=i,
            topic="rdv.t.s.requests",
        )
        for i in range(size)
    ]


def measure(batches: int) -> dict[str, Any]:
    calls = IsolatedCalls()
    report: dict[str, Any] = {"batches": batches, "load_before": os.getloadavg()[0], "cases": []}
    for name, model in _models().items():
        spec = model.spec

        def isolated(predict: Callable[..., Any], rows: list[Any]) -> Any:
            return calls.call(("t", "m", 1, "0"), predict, rows, timeout_ms=1000, label="bench")

        for size in (1, 32):
            items = _items(size)
            timings: dict[str, list[float]] = {"direct": [], "isolated": []}
            for _ in range(50):  # warm-up
                score_version(items, spec, model, runner_id="b", call=call_directly)
                score_version(items, spec, model, runner_id="b", call=isolated)
            for _ in range(batches):
                for way, call in (("direct", call_directly), ("isolated", isolated)):
                    started = time.perf_counter()
                    score_version(items, spec, model, runner_id="b", call=call)
                    timings[way].append((time.perf_counter() - started) * 1e6)
            case = {"model": name, "batch": size}
            for way, values in timings.items():
                case[f"{way}_p50_us"] = round(percentile(values, 50), 1)
                case[f"{way}_p99_us"] = round(percentile(values, 99), 1)
            case["overhead_p50_us"] = round(case["isolated_p50_us"] - case["direct_p50_us"], 1)
            report["cases"].append(case)
    calls.close()
    report["load_after"] = os.getloadavg()[0]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=2000)
    args = parser.parse_args(argv)
    report = measure(args.batches)
    print(f"load average {report['load_before']:.2f} -> {report['load_after']:.2f}; {args.batches} batches each")
    print(f"{'model':<10} {'batch':>5} {'direct p50/p99 us':>20} {'isolated p50/p99 us':>22} {'overhead p50 us':>16}")
    for c in report["cases"]:
        print(
            f"{c['model']:<10} {c['batch']:>5} {c['direct_p50_us']:>10} / {c['direct_p99_us']:<8}"
            f" {c['isolated_p50_us']:>10} / {c['isolated_p99_us']:<10} {c['overhead_p50_us']:>14}"
        )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
