"""Load test of the HTTP service: concurrent clients against /v1/search and /v1/ask.

Starts ``ragmed serve`` in a subprocess (rate limits lifted) unless ``--url`` names a running
server, holds ``--clients`` concurrent clients for ``--duration`` seconds (half of them searching,
half asking, each a bounded loop over a fixed list of questions), then prints throughput, errors
and latency percentiles per route. ``--unique`` makes every query text distinct, so the server's
query-embedding cache does not flatter the figures.

    python bench/load.py                       # 32 clients, 60 s, the configured index
    python bench/load.py --index small --duration 30
    python bench/load.py --url http://127.0.0.1:8000 --api-key KEY
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import IO

import httpx

QUESTIONS = [
    "What are the symptoms of type 2 diabetes?",
    "How is asthma treated?",
    "What causes high blood pressure?",
    "What are the early signs of a stroke?",
    "How is hepatitis B transmitted?",
    "What are the complications of diabetes in children?",
    "How can influenza be prevented?",
    "What are the risk factors for heart disease?",
    "What is the treatment for tuberculosis?",
    "What are the symptoms of Lyme disease?",
    "How is HIV diagnosed?",
    "What causes obesity in adults?",
    "Does metformin reduce cardiovascular risk?",
    "What are the signs of low blood sugar?",
    "How is chronic kidney disease detected?",
    "What are the side effects of statins?",
]


@dataclass
class RouteStats:
    """Latencies (seconds) and errors of one route."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by linear interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


async def client_loop(client: httpx.AsyncClient, index: int, deadline: float, max_requests: int,
                      stats: dict[str, RouteStats], unique: bool) -> None:
    """One client (even: search, odd: ask) looping until the deadline or ``max_requests``."""
    route = "/v1/search" if index % 2 == 0 else "/v1/ask"
    for i in range(max_requests):
        if time.monotonic() >= deadline:
            return
        question = QUESTIONS[(index * 7 + i) % len(QUESTIONS)]
        if unique:
            question = f"{question} (client {index} request {i})"
        body = {"query": question, "k": 5} if route == "/v1/search" else {"question": question}
        started = time.perf_counter()
        try:
            response = await client.post(route, json=body)
            status = str(response.status_code)
            ok = response.status_code == 200
        except httpx.HTTPError as exc:
            status, ok = type(exc).__name__, False
        elapsed = time.perf_counter() - started
        entry = stats[route]
        entry.statuses[status] = entry.statuses.get(status, 0) + 1
        if ok:
            entry.latencies.append(elapsed)
        else:
            entry.errors += 1


async def run_load(url: str, clients: int, duration: float, max_requests: int, api_key: str | None,
                   timeout: float, unique: bool = False) -> tuple[dict[str, RouteStats], float]:
    """Run the clients; return per-route statistics and the wall time."""
    stats = {"/v1/search": RouteStats(), "/v1/ask": RouteStats()}
    headers = {"X-API-Key": api_key} if api_key else {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout, limits=limits) as client:
        started = time.monotonic()
        deadline = started + duration
        await asyncio.gather(*(client_loop(client, i, deadline, max_requests, stats, unique) for i in range(clients)))
        return stats, time.monotonic() - started


def wait_ready(url: str, timeout: float, process: subprocess.Popen[bytes] | None) -> None:
    """Poll ``/readyz`` until 200.

    Raises:
        RuntimeError: the server exited or did not become ready in time.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode}")
        try:
            if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} was not ready after {timeout:g} s")


def start_server(index: str | None, env: dict[str, str] | None = None,
                 log: IO[bytes] | None = None) -> tuple[str, subprocess.Popen[bytes]]:
    """Start ``api.serve`` in a subprocess on a free port with rate limits lifted.

    Args:
        index: index to serve (the settings' default when None).
        env: more ``RAGMED_*`` variables for the server.
        log: where the server's stdout and stderr (its logs) go; discarded when None.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "RAGMED_API__RATE_LIMIT_PER_MINUTE": "1000000000", "HF_HUB_OFFLINE": "1",
           "RAGMED_LOGGING__LEVEL": os.environ.get("RAGMED_LOGGING__LEVEL", "WARNING"), **(env or {})}
    code = f"from api import serve; serve(host='127.0.0.1', port={port}, index={index!r})"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    output = log if log is not None else subprocess.DEVNULL
    process = subprocess.Popen([sys.executable, "-c", code], cwd=root, env=env, stdout=output, stderr=output)
    return f"http://127.0.0.1:{port}", process


def report(stats: dict[str, RouteStats], wall: float, clients: int) -> str:
    """Format the figures as a table."""
    lines = [f"{clients} clients, {wall:.1f} s (from the first request to the last answer)",
             f"{'route':<12}{'ok':>7}{'errors':>8}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}  statuses"]
    total_ok = total_err = 0
    for route, entry in stats.items():
        ok = len(entry.latencies)
        total_ok += ok
        total_err += entry.errors
        ms = [v * 1000 for v in entry.latencies]
        lines.append(f"{route:<12}{ok:>7}{entry.errors:>8}{ok / wall:>8.2f}{percentile(ms, .5):>9.0f}"
                     f"{percentile(ms, .95):>9.0f}{percentile(ms, .99):>9.0f}  {entry.statuses}")
    all_ms = [v * 1000 for e in stats.values() for v in e.latencies]
    mean = statistics.fmean(all_ms) if all_ms else float("nan")
    lines.append(f"{'all':<12}{total_ok:>7}{total_err:>8}{total_ok / wall:>8.2f}{percentile(all_ms, .5):>9.0f}"
                 f"{percentile(all_ms, .95):>9.0f}{percentile(all_ms, .99):>9.0f}  mean {mean:.0f} ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the load test; exit status 1 when any request failed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server; when unset one is started")
    parser.add_argument("--index", help="index served by the started server (settings' default when unset)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--max-requests", type=int, default=10_000, help="requests per client at most")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per request")
    parser.add_argument("--ready-timeout", type=float, default=1800.0, help="seconds to wait for /readyz")
    parser.add_argument("--api-key", default=os.environ.get("RAGMED_BENCH_API_KEY"))
    parser.add_argument("--unique", action="store_true", help="make every query text distinct (no cache hits)")
    args = parser.parse_args(argv)
    if args.clients <= 0 or args.duration <= 0 or args.max_requests <= 0:
        parser.error("--clients, --duration and --max-requests must be greater than 0")

    process = None
    url = args.url
    if url is None:
        url, process = start_server(args.index)
    try:
        wait_ready(url.rstrip("/"), args.ready_timeout, process)
        info = httpx.get(url.rstrip("/") + "/v1/info", headers={"X-API-Key": args.api_key} if args.api_key else {},
                         timeout=30)
        if info.status_code == 200:
            data = info.json()
            print(f"index {data.get('name')} revision {data.get('revision')} generator {data.get('generator')} "
                  f"counts {data.get('counts')}")
        stats, wall = asyncio.run(run_load(url.rstrip("/"), args.clients, args.duration, args.max_requests,
                                           args.api_key, args.timeout, args.unique))
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    print(report(stats, wall, args.clients))
    return 1 if any(e.errors for e in stats.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
