"""What state injection adds per request: the gateway's external state (none / clock / clock+lookup /
clock+lookup+Redis) and the runner's internal state per micro-batch, against a real Redis.

    REDIS_URL=redis://127.0.0.1:6379/0 python -m bench.state_injection --iterations 5000

Measures only the injection step, in-process (no HTTP, no Kafka): the difference between two rows is
the latency a service's spec adds to each of its requests. Writes its keys under ``bench:state:`` and
deletes them afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable

import redis

from bench.stats import percentile
from contracts.config import DeploymentSpec
from contracts.messages import Request
from contracts.state import EMPTY_SPEC, ExternalStateSpec, external_state_parse, internal_state_parse

PREFIX = "bench:state:"
TENANT = "bench"
# The server reads every key of a tenant's state under t:<tenant>: (DESIGN.md §4); seeds write there.
NS = f"t:{TENANT}:"
CLOCK = {"type": "clock", "fields": ["hour", "weekday", "month", "is_weekend"], "timezone": "Europe/Paris"}
LOOKUP = {
    "type": "lookup",
    "key": "country",
    "table": {f"c{i}": {"risk": i / 250} for i in range(250)} | {"fr": {"risk": 0.2}},
    "default": {"risk": 0.5},
}
REDIS = {
    "type": "redis",
    "key": "account",
    "prefix": f"{PREFIX}account:",
    "fields": ["age_days", "orders"],
    "default": {"age_days": 0, "orders": 0},
}
INPUTS = {"amount": 42.0, "country": "fr", "account": "a-1"}


def _micros(samples: list[float]) -> dict[str, float]:
    return {
        "p50_us": round(percentile(samples, 50) * 1e6, 1),
        "p99_us": round(percentile(samples, 99) * 1e6, 1),
        "mean_us": round(sum(samples) / len(samples) * 1e6, 1),
    }


async def _timed(step: Callable[[], Awaitable[object]], iterations: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        await step()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        await step()
        samples.append(time.perf_counter() - started)
    return samples


async def _gateway(redis_url: str, iterations: int, warmup: int) -> dict[str, dict[str, float]]:
    from controlplane.gateway.state import ExternalState, reject_injected_inputs

    state = ExternalState(redis_url, timeout_s=0.05)
    specs: dict[str, ExternalStateSpec] = {
        "none": EMPTY_SPEC,
        "clock": external_state_parse({"providers": [CLOCK]}),
        "clock+lookup": external_state_parse({"providers": [CLOCK, LOOKUP]}),
        "clock+lookup+redis": external_state_parse({"providers": [CLOCK, LOOKUP, REDIS]}),
    }
    report = {}
    for name, spec in specs.items():

        async def step(spec: ExternalStateSpec = spec) -> object:
            reject_injected_inputs(INPUTS, spec)
            return await state.values(spec, INPUTS, "alice", time.time(), tenant=TENANT)

        report[name] = _micros(await _timed(step, iterations, warmup))
    # Many requests in flight at once, as under load: each still makes its own pipelined round trip.
    spec = specs["clock+lookup+redis"]
    concurrent: list[float] = []

    async def one() -> None:
        started = time.perf_counter()
        await state.values(spec, INPUTS, "alice", time.time(), tenant=TENANT)
        concurrent.append(time.perf_counter() - started)

    rounds = max(1, iterations // 32)
    started = time.perf_counter()
    for _ in range(rounds):
        await asyncio.gather(*(one() for _ in range(32)))
    wall = time.perf_counter() - started
    report["clock+lookup+redis, 32 in flight"] = _micros(concurrent)
    # What each request costs the process when they come together (wall time / requests).
    report["clock+lookup+redis, 32 in flight"]["process_us_per_request"] = round(wall / (rounds * 32) * 1e6, 1)
    report["_failures"] = dict(state.stats)
    return report


def _runner(redis_url: str, iterations: int) -> dict[str, dict[str, float]]:
    from model_runner.state import InternalState

    state = InternalState(redis_url, timeout_s=0.05)
    provider = internal_state_parse(
        {"type": "redis", "key": "user_key", "prefix": f"{PREFIX}user:", "fields": ["visits"], "default": {"visits": 0}}
    )
    base = {"model": "m", "version": 1, "role": "champion", "format": "skops", "sha256": "0" * 64, "artifact_url": "x"}
    specs = {"without": DeploymentSpec(**base), "with internal state": DeploymentSpec(**base, internal_state=provider)}
    report = {}
    for batch in (1, 100):
        requests = [
            Request(
                request_id=str(i),
                tenant="t",
                service="s",
                user_key=f"u{i % 50}",
                sent_at=time.time(),
                deadline_ms=1000,
                config_revision=1,
                inputs=INPUTS,
            )
            for i in range(batch)
        ]
        for name, spec in specs.items():
            rounds = max(50, iterations // batch)
            for _ in range(10):
                state.rows(spec, requests, tenant=TENANT)
            samples = []
            for _ in range(rounds):
                started = time.perf_counter()
                state.rows(spec, requests, tenant=TENANT)
                samples.append(time.perf_counter() - started)
            report[f"batch {batch}, {name}"] = _micros(samples)
    report["_failures"] = dict(state.stats)
    state.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--iterations", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=500)
    args = parser.parse_args()
    client = redis.Redis.from_url(args.redis_url)
    client.hset(f"{NS}{PREFIX}account:a-1", mapping={"age_days": "311", "orders": "17"})
    for i in range(50):
        client.hset(f"{NS}{PREFIX}user:u{i}", mapping={"visits": str(i)})
    try:
        report = {
            "gateway external state per request": asyncio.run(_gateway(args.redis_url, args.iterations, args.warmup)),
            "runner internal state per micro-batch": _runner(args.redis_url, args.iterations),
        }
    finally:
        for key in client.scan_iter(f"{NS}{PREFIX}*"):
            client.delete(key)
        client.close()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
