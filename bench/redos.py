"""A ReDoS attack by one tenant against another's latency (issue 14, acceptance 5), against a running platform.

Tenant A (the demo tenant) sends steady predictions at ``--rate-a`` (open loop). Tenant B owns a service
whose input schema has the catastrophic-backtracking pattern ``^(a+)+$`` and floods it with evil strings
(``a`` × ``--evil-chars`` then ``!``) at ``--rate-b``. Each round measures A alone, then A under B's
attack, in the same run, so the two p99s are side by side; the summary is the median over the rounds.
With jsonschema's own ``re`` one such string of 30 characters holds the gateway's event loop for
seconds (measured below as a reference, on a shorter string); with RE2 it costs microseconds.

    bash scripts/bench_redos.sh            # or: make bench-redos
    python -m bench.redos --url http://127.0.0.1:8077 --token "$(cat .run/demo-token)" --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import statistics
import time
from typing import Any

import aiohttp

from bench.stats import summary

IRIS_ROW = {"sepal_length": 5.9, "sepal_width": 3.0, "petal_length": 5.1, "petal_width": 1.8}
EVIL_PATTERN = "^(a+)+$"
TENANT_B, SERVICE_B = "redos-b", "evil"


def seed_attacker(quota_per_s: int) -> str:
    """Tenant B, its token and its service with the evil pattern (accepted: RE2 compiles it)."""
    import django

    django.setup()
    from controlplane.routing.models import Service
    from controlplane.routing.services import service_create
    from controlplane.tenancy.models import Tenant
    from controlplane.tenancy.services import tenant_create, token_create

    tenant = Tenant.objects.filter(slug=TENANT_B).first() or tenant_create(slug=TENANT_B, name="ReDoS attacker")
    tenant.quota_predictions_per_s = quota_per_s
    tenant.save(update_fields=["quota_predictions_per_s"])
    if not Service.objects.filter(tenant=tenant, slug=SERVICE_B).exists():
        schema = {"type": "object", "properties": {"s": {"type": "string", "pattern": EVIL_PATTERN}}, "required": ["s"]}
        service_create(tenant=tenant, slug=SERVICE_B, name="Evil", input_schema=schema, deadline_ms=100)
    _, secret = token_create(tenant=tenant, name="bench", scopes=["predict"])
    return secret


def python_re_reference(chars: int = 24) -> float:
    """Seconds Python's ``re`` (what jsonschema uses) takes on ONE evil string of ``chars`` characters."""
    started = time.perf_counter()
    re.search(EVIL_PATTERN, "a" * chars + "!")
    return time.perf_counter() - started


def validation_cost(chars: int, repeat: int = 200) -> dict[str, float]:
    """Gateway CPU per predict body (parse + schema validation, as on the event loop), in microseconds:
    the evil string, a same-size string refused at its first character, and one the pattern accepts."""
    from controlplane.gateway.errors import GatewayError
    from controlplane.gateway.inputs import parse_predict_body, validate_inputs

    schema = json.dumps({"type": "object", "properties": {"s": {"type": "string", "pattern": EVIL_PATTERN}}})
    costs = {}
    for name, text in (("evil", "a" * chars + "!"), ("refused_at_once", "b" * (chars + 1)), ("accepted", "a" * chars)):
        body = json.dumps({"inputs": {"s": text}}).encode()
        started = time.perf_counter()
        for _ in range(repeat):
            with contextlib.suppress(GatewayError):
                validate_inputs(parse_predict_body(body)[0], schema)
        costs[f"{name}_us"] = round((time.perf_counter() - started) / repeat * 1e6, 1)
    return costs


async def _open_loop(
    client: aiohttp.ClientSession, url: str, body: bytes, rate: float, seconds: float, out: list, codes: dict
) -> None:
    async def one() -> None:
        started = time.perf_counter()
        try:
            async with client.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                await response.read()
                code = response.status
        except (aiohttp.ClientError, TimeoutError):
            code = 0
        out.append((time.perf_counter() - started) * 1000)
        codes[code] = codes.get(code, 0) + 1

    tasks = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        pause = start + i / rate - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        tasks.append(asyncio.ensure_future(one()))
    await asyncio.gather(*tasks)


def _flood(args: argparse.Namespace, token_b: str, body: str, results: Any) -> None:
    """Tenant B's flood, in a process of its own: A's client loop measures A, not B's sending."""
    url_b = f"{args.url}/api/v1/tenants/{TENANT_B}/services/{SERVICE_B}/predict"
    latencies: list[float] = []
    codes: dict[int, int] = {}

    async def run() -> None:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30),
            headers={"Authorization": f"Bearer {token_b}"},
            connector=aiohttp.TCPConnector(limit=0),
        ) as client:
            await _open_loop(client, url_b, body.encode(), args.rate_b, args.seconds, latencies, codes)

    asyncio.run(run())
    results.put({"codes": codes, **summary(latencies)})


def phase(args: argparse.Namespace, token_b: str | None, flood_string: str = "") -> dict[str, Any]:
    """A's steady load for ``args.seconds``; with ``token_b``, B floods ``flood_string`` meanwhile."""
    url_a = f"{args.url}/api/v1/tenants/{args.tenant}/services/{args.service}/predict"
    body_a = json.dumps({"inputs": IRIS_ROW}).encode()
    latencies_a: list[float] = []
    codes_a: dict[int, int] = {}
    flood = results = None
    if token_b is not None:
        results = multiprocessing.Queue()
        body_b = json.dumps({"inputs": {"s": flood_string}})
        flood = multiprocessing.Process(target=_flood, args=(args, token_b, body_b, results))
        flood.start()

    async def run() -> None:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30),
            headers={"Authorization": f"Bearer {args.token}"},
            connector=aiohttp.TCPConnector(limit=0),
        ) as client:
            await _open_loop(client, url_a, body_a, args.rate_a, args.seconds, latencies_a, codes_a)

    asyncio.run(run())
    result: dict[str, Any] = {"a": {"codes": codes_a, **summary(latencies_a)}}
    if flood is not None and results is not None:
        result["b"] = results.get(timeout=120)
        flood.join()
    return result


def _warm(args: argparse.Namespace) -> None:
    phase(argparse.Namespace(**{**vars(args), "seconds": args.warmup}), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("RDV_PUBLIC_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", required=True, help="tenant A's predict token")
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--service", default="iris")
    parser.add_argument("--rate-a", type=float, default=50.0)
    parser.add_argument("--rate-b", type=float, default=200.0)
    parser.add_argument("--quota-b", type=int, default=1000, help="tenant B's predictions per second")
    parser.add_argument("--evil-chars", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default="")
    args = parser.parse_args()

    token_b = seed_attacker(args.quota_b)
    reference = python_re_reference()
    print(
        f"reference: Python re (jsonschema's engine) on ONE {24 + 1}-char evil string: {reference:.2f} s "
        "(doubles per added character)"
    )
    costs = validation_cost(args.evil_chars)
    print(f"gateway CPU per body of {args.evil_chars + 1} chars (parse + validate, RE2): {costs}")
    _warm(args)
    time.sleep(3)  # the service caches of the gateway and B's first predicts settle
    rounds = []
    for number in range(1, args.rounds + 1):
        # The same flood with a string of the same size that fails the pattern at its first character (400
        # too, no backtracking in any engine): what a flood of that size and outcome costs A anyway.
        # The two floods alternate which comes first, so neither is always the one right after A alone.
        alone = phase(args, None)
        if number % 2:
            attacked = phase(args, token_b, "a" * args.evil_chars + "!")
            benign = phase(args, token_b, "b" * (args.evil_chars + 1))
        else:
            benign = phase(args, token_b, "b" * (args.evil_chars + 1))
            attacked = phase(args, token_b, "a" * args.evil_chars + "!")
        load = os.getloadavg()[0]
        rounds.append({"alone": alone, "attacked": attacked, "benign_flood": benign, "loadavg_1m": round(load, 2)})
        print(
            f"round {number}: A alone p50 {alone['a']['p50_ms']:.1f} p99 {alone['a']['p99_ms']:.1f} ms "
            f"{alone['a']['codes']} | A under ReDoS flood p50 {attacked['a']['p50_ms']:.1f} "
            f"p99 {attacked['a']['p99_ms']:.1f} ms {attacked['a']['codes']} | B {attacked['b']['codes']} "
            f"p99 {attacked['b']['p99_ms']:.1f} ms | A under benign flood p99 {benign['a']['p99_ms']:.1f} ms, "
            f"B {benign['b']['codes']} | load {load:.2f}",
            flush=True,
        )
    p99_alone = statistics.median(r["alone"]["a"]["p99_ms"] for r in rounds)
    p99_attacked = statistics.median(r["attacked"]["a"]["p99_ms"] for r in rounds)
    p99_benign = statistics.median(r["benign_flood"]["a"]["p99_ms"] for r in rounds)
    report = {
        "settings": {k: v for k, v in vars(args).items() if k != "token"},
        "python_re_reference_s": round(reference, 3),
        "validation_cost": costs,
        "rounds": rounds,
        "median_p99_alone_ms": round(p99_alone, 2),
        "median_p99_attacked_ms": round(p99_attacked, 2),
        "median_p99_benign_flood_ms": round(p99_benign, 2),
        "p99_increase_pct": round((p99_attacked / p99_alone - 1) * 100, 1),
        "p99_attack_vs_benign_flood_pct": round((p99_attacked / p99_benign - 1) * 100, 1),
    }
    print(
        f"median over {args.rounds} rounds: A's p99 alone {p99_alone:.1f} ms, under attack {p99_attacked:.1f} ms "
        f"({report['p99_increase_pct']:+.1f} %; target ≤ +20 %); under the same flood with a benign string "
        f"{p99_benign:.1f} ms (ReDoS vs benign {report['p99_attack_vs_benign_flood_pct']:+.1f} %)"
    )
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()
