"""Load generation for the serving benchmark (aiohttp, open and closed loop) and its tables."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np


async def _post(session: Any, url: str, body: bytes, headers: dict[str, str]) -> int:
    async with session.post(url, data=body, headers=headers) as resp:
        await resp.read()
        return resp.status


async def open_loop(
    url: str, bodies: Callable[[int], bytes], headers: dict[str, str], rate: float, duration: float
) -> dict[str, float]:
    """Send at a fixed rate; latency counts from each request's scheduled time."""
    import aiohttp

    n = int(rate * duration)
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:
        loop = asyncio.get_running_loop()
        begin = loop.time() + 0.2

        async def one(i: int) -> None:
            nonlocal errors
            scheduled = begin + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            status = await _post(session, url, bodies(i), headers)
            if status != 200:
                errors += 1
            latencies.append((loop.time() - scheduled) * 1000)

        await asyncio.gather(*(one(i) for i in range(n)))
    lat = np.array(latencies)
    return {
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
        "max": float(lat.max()),
        "rps": rate,
        "errors": errors,
    }


async def closed_loop(
    url: str,
    bodies: Callable[[int], bytes],
    headers: dict[str, str],
    concurrency: int,
    duration: float,
) -> dict[str, float]:
    """``concurrency`` clients each sending the next request when the last returns."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    counter = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        loop = asyncio.get_running_loop()
        end = loop.time() + duration

        async def client() -> None:
            nonlocal errors, counter
            while loop.time() < end:
                i = counter
                counter += 1
                t0 = loop.time()
                if await _post(session, url, bodies(i), headers) != 200:
                    errors += 1
                latencies.append((loop.time() - t0) * 1000)

        start_t = loop.time()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = loop.time() - start_t
    lat = np.array(latencies)
    return {
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
        "max": float(lat.max()),
        "rps": len(lat) / elapsed,
        "errors": errors,
    }


def floor(fn: Callable[[int], Any], n: int = 2000) -> dict[str, float]:
    """Latency of ``fn(i)`` called in this process ``n`` times (after 50 warm-up calls)."""
    for i in range(50):
        fn(i)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    lat = np.array(times)
    return {
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
        "max": float(lat.max()),
        "rps": 1000 / float(lat.mean()),
        "errors": 0,
    }


def median_rows(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Scenario -> figure -> the median of that figure over the runs."""
    return {
        name: {key: statistics.median(run[name][key] for run in runs) for key in runs[0][name]}
        for name in runs[0]
    }


def print_table(title: str, rows: dict[str, dict[str, float]]) -> None:
    """A Markdown table of latency percentiles, throughput and errors per scenario."""
    print(f"\n### {title}\n")
    print("| scenario | p50 ms | p99 ms | max ms | req/s | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.1f} | "
            f"{r['rps']:,.0f} | {r['errors']:.0f} |"
        )
