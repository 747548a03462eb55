"""Dropped streams: does a server give back what abandoned Server-Sent Event streams took?

Starts ``ragmed serve`` in a subprocess on 127.0.0.1 (rate limits lifted), answers one streamed question to warm
it, lets it settle, then opens ``--streams`` streamed answers (``POST /v1/ask`` with ``"stream": true``, every
question different), ``--concurrency`` at a time; each client reads the first event and hangs up. The server's
thread count and resident memory (from ``/proc/<pid>/status``) are printed at baseline, at their peak, and every
second up to ``--settle`` seconds after the last drop, with the CPU time the server spent in that window (near
zero when the dropped answers were really stopped). Target: threads and memory back within 10% of baseline
within 10 s.

    python bench/dropped_streams.py                    # the configured index, 200 streams, 16 at a time
    RAGMED_INDEX__ROOT=/path/to/indexes python bench/dropped_streams.py --index small --streams 200

Figures are noisy on a shared machine: run it when the cores are otherwise idle, or say they were not.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import httpx
from load import QUESTIONS, start_server, wait_ready


@dataclass
class Sample:
    """One reading of the server process."""

    at: float
    threads: int
    rss_mb: float
    cpu_s: float


def thread_names(pid: int) -> dict[str, int]:
    """How many threads of process ``pid`` carry each name (``/proc/<pid>/task/*/comm``)."""
    names: dict[str, int] = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/comm", encoding="utf-8") as handle:
                name = handle.read().strip()
        except FileNotFoundError:
            continue  # the thread ended while we looked
        names[name] = names.get(name, 0) + 1
    return names


def read_process(pid: int) -> Sample:
    """Threads, resident memory and CPU seconds (user + system) of process ``pid``, from ``/proc``."""
    threads, rss_kb = 0, 0
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return Sample(time.monotonic(), threads, rss_kb / 1024, cpu)


@dataclass
class Sampler:
    """Reads the process every ``interval`` seconds in a thread and keeps the peak."""

    pid: int
    interval: float = 0.1
    peak_threads: int = 0
    peak_rss_mb: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            sample = read_process(self.pid)
            self.samples.append(sample)
            self.peak_threads = max(self.peak_threads, sample.threads)
            self.peak_rss_mb = max(self.peak_rss_mb, sample.rss_mb)
            self._stop.wait(self.interval)


async def drop_one(client: httpx.AsyncClient, i: int, gate: asyncio.Semaphore, statuses: dict[str, int]) -> None:
    """Open one streamed answer, read its first event (or its error status), and hang up."""
    question = f"{QUESTIONS[i % len(QUESTIONS)]} (stream {i})"
    async with gate:
        try:
            async with client.stream("POST", "/v1/ask", json={"question": question, "stream": True}) as response:
                status = str(response.status_code)
                if response.status_code == 200:
                    async for line in response.aiter_lines():
                        if line.startswith("data:"):
                            break  # first event read: hang up
        except httpx.HTTPError as exc:
            status = type(exc).__name__
    statuses[status] = statuses.get(status, 0) + 1


async def drop_all(url: str, streams: int, concurrency: int) -> dict[str, int]:
    statuses: dict[str, int] = {}
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        await asyncio.gather(*(drop_one(client, i, gate, statuses) for i in range(streams)))
    return statuses


def warm(url: str) -> None:
    """One streamed answer read to the end, so the generator and the answer workers exist before the baseline."""
    with httpx.Client(base_url=url, timeout=300) as client, client.stream(
            "POST", "/v1/ask", json={"question": QUESTIONS[0], "stream": True}) as response:
        response.raise_for_status()
        for _ in response.iter_lines():
            pass


def within(value: float, base: float, share: float = 0.10) -> bool:
    return value <= base * (1 + share)


def main(argv: list[str] | None = None) -> int:
    """Run the bench; exit status 1 when threads or memory are not back within 10% after ``--settle`` s."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", help="index to serve (the settings' default when unset)")
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16, help="streams open at once")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds watched after the last drop")
    parser.add_argument("--idle", type=float, default=12.0, help="seconds idle before the baseline is read")
    parser.add_argument("--ready-timeout", type=float, default=1800.0)
    args = parser.parse_args(argv)
    if args.streams <= 0 or args.concurrency <= 0:
        parser.error("--streams and --concurrency must be greater than 0")

    url, process = start_server(args.index)
    try:
        wait_ready(url, args.ready_timeout, process)
        warm(url)
        time.sleep(args.idle)
        base = read_process(process.pid)
        base_names = thread_names(process.pid)
        sampler = Sampler(process.pid)
        sampler.start()
        started = time.monotonic()
        statuses = asyncio.run(drop_all(url, args.streams, args.concurrency))
        at_drop = read_process(process.pid)
        dropped = at_drop.at
        after: list[Sample] = []
        while time.monotonic() - dropped < args.settle:
            time.sleep(1.0 - (time.monotonic() - dropped) % 1.0)
            after.append(read_process(process.pid))
        sampler.stop()
        end_names = thread_names(process.pid)
        in_flight = httpx.get(url + "/metrics", timeout=30).text
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()

    gauge = [line for line in in_flight.splitlines() if line.startswith("ragmed_http_requests_in_progress")]
    last = after[-1]
    back = next((s for s in after if within(s.threads, base.threads) and within(s.rss_mb, base.rss_mb)), None)
    print(f"{args.streams} streams, {args.concurrency} at a time, dropped after the first event in "
          f"{dropped - started:.1f} s; statuses {statuses}")
    print(f"{'':<22}{'threads':>8}{'RSS MB':>9}")
    print(f"{'baseline':<22}{base.threads:>8}{base.rss_mb:>9.1f}")
    print(f"{'peak':<22}{sampler.peak_threads:>8}{sampler.peak_rss_mb:>9.1f}")
    for sample in after:
        print(f"{f'+{sample.at - dropped:.0f} s after the last drop':<22}{sample.threads:>8}{sample.rss_mb:>9.1f}")
    print(f"server CPU in the {args.settle:g} s after the last drop: {last.cpu_s - at_drop.cpu_s:.2f} s")
    changed = {n: end_names.get(n, 0) - base_names.get(n, 0) for n in set(base_names) | set(end_names)}
    changed = {n: d for n, d in changed.items() if d}
    if changed:
        print(f"threads by name, end minus baseline: {changed}")
    if gauge:
        print("requests in progress at the end (includes this /metrics request): " + gauge[0].rsplit(" ", 1)[1])
    if back is None:
        print(f"NOT back within 10% of baseline in {args.settle:g} s "
              f"(threads {last.threads} vs {base.threads}, RSS {last.rss_mb:.1f} vs {base.rss_mb:.1f} MB)")
        return 1
    print(f"back within 10% of baseline {back.at - dropped:.0f} s after the last drop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
