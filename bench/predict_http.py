"""HTTP predict latency at a fixed offered load (open loop: requests leave on schedule, whatever the
answers do), against a running platform.

    python -m bench.predict_http --url http://127.0.0.1:8000 --tenant demo --service iris \
        --token "$(cat .run/demo-token)" --rate 200 --seconds 10 --warmup 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp

from bench.stats import summary

IRIS_ROW = {"sepal_length": 5.9, "sepal_width": 3.0, "petal_length": 5.1, "petal_width": 1.8}


async def _one(
    client: aiohttp.ClientSession, url: str, body: dict, out: list, codes: dict, measured: bool
) -> None:
    started = time.perf_counter()
    try:
        async with client.post(url, json=body) as response:
            await response.read()
            code = response.status
    except (aiohttp.ClientError, TimeoutError):
        code = 0
    if measured:
        codes[code] = codes.get(code, 0) + 1
        if code == 200:
            out.append((time.perf_counter() - started) * 1000)


async def run(url: str, token: str, *, rate: float, seconds: float, warmup: float) -> dict:
    # aiohttp rather than httpx: httpx's async pool costs grow with pending requests and the
    # client, not the server, became the bottleneck at a few hundred requests per second.
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    codes: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=256)
    timeout = aiohttp.ClientTimeout(total=10.0)
    async with aiohttp.ClientSession(headers=headers, connector=connector, timeout=timeout) as client:
        tasks = []
        start = time.perf_counter()
        total = int(rate * (seconds + warmup))
        warm = int(rate * warmup)
        for i in range(total):
            pause = start + i / rate - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            body = {"inputs": IRIS_ROW, "user_key": f"user-{i % 1000}"}
            tasks.append(asyncio.create_task(_one(client, url, body, latencies, codes, i >= warm)))
        await asyncio.gather(*tasks)
    return {"rate": rate, "codes": codes, **summary(latencies)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--service", default="iris")
    parser.add_argument("--token", required=True)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args(argv)
    url = f"{args.url}/api/v1/tenants/{args.tenant}/services/{args.service}/predict"
    result = asyncio.run(run(url, args.token, rate=args.rate, seconds=args.seconds, warmup=args.warmup))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
