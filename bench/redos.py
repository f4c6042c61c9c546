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
import json
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


async def phase(args: argparse.Namespace, token_b: str | None) -> dict[str, Any]:
    url_a = f"{args.url}/api/v1/tenants/{args.tenant}/services/{args.service}/predict"
    url_b = f"{args.url}/api/v1/tenants/{TENANT_B}/services/{SERVICE_B}/predict"
    body_a = json.dumps({"inputs": IRIS_ROW}).encode()
    body_b = json.dumps({"inputs": {"s": "a" * args.evil_chars + "!"}}).encode()
    latencies_a: list[float] = []
    codes_a: dict[int, int] = {}
    latencies_b: list[float] = []
    codes_b: dict[int, int] = {}
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=0)
    auth_a = {"Authorization": f"Bearer {args.token}"}
    async with (
        aiohttp.ClientSession(timeout=timeout, headers=auth_a, connector=connector) as client_a,
        aiohttp.ClientSession(
            timeout=timeout, headers={"Authorization": f"Bearer {token_b}"}, connector=aiohttp.TCPConnector(limit=0)
        ) as client_b,
    ):
        runs = [_open_loop(client_a, url_a, body_a, args.rate_a, args.seconds, latencies_a, codes_a)]
        if token_b is not None:
            runs.append(_open_loop(client_b, url_b, body_b, args.rate_b, args.seconds, latencies_b, codes_b))
        await asyncio.gather(*runs)
    result: dict[str, Any] = {"a": {"codes": codes_a, **summary(latencies_a)}}
    if token_b is not None:
        result["b"] = {"codes": codes_b, **summary(latencies_b)}
    return result


async def _warm(args: argparse.Namespace) -> None:
    warm = argparse.Namespace(**{**vars(args), "seconds": args.warmup})
    await phase(warm, None)


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
    print(f"reference: Python re (jsonschema's engine) on ONE {24 + 1}-char evil string: {reference:.2f} s "
          "(doubles per added character)")
    asyncio.run(_warm(args))
    time.sleep(3)  # the service caches of the gateway and B's first predicts settle
    rounds = []
    for number in range(1, args.rounds + 1):
        alone = asyncio.run(phase(args, None))
        attacked = asyncio.run(phase(args, token_b))
        load = os.getloadavg()[0]
        rounds.append({"alone": alone, "attacked": attacked, "loadavg_1m": round(load, 2)})
        print(
            f"round {number}: A alone p50 {alone['a']['p50_ms']:.1f} p99 {alone['a']['p99_ms']:.1f} ms "
            f"{alone['a']['codes']} | A under attack p50 {attacked['a']['p50_ms']:.1f} "
            f"p99 {attacked['a']['p99_ms']:.1f} ms {attacked['a']['codes']} | B {attacked['b']['codes']} "
            f"p99 {attacked['b']['p99_ms']:.1f} ms | load {load:.2f}",
            flush=True,
        )
    p99_alone = statistics.median(r["alone"]["a"]["p99_ms"] for r in rounds)
    p99_attacked = statistics.median(r["attacked"]["a"]["p99_ms"] for r in rounds)
    report = {
        "settings": {k: v for k, v in vars(args).items() if k != "token"},
        "python_re_reference_s": round(reference, 3),
        "rounds": rounds,
        "median_p99_alone_ms": round(p99_alone, 2),
        "median_p99_attacked_ms": round(p99_attacked, 2),
        "p99_increase_pct": round((p99_attacked / p99_alone - 1) * 100, 1),
    }
    print(
        f"median over {args.rounds} rounds: A's p99 alone {p99_alone:.1f} ms, under attack {p99_attacked:.1f} ms "
        f"({report['p99_increase_pct']:+.1f} %; target ≤ +20 %)"
    )
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()
