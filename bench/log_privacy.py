"""Identifiers in logs: send every synthetic identifier through every endpoint of a real server, then count the
identifiers that appear anywhere in what the server wrote (stdout and stderr: access log, application log,
uvicorn's log), as sent, in any case, URL-encoded or JSON-escaped. An identifier counts where it stands as a
token of its own (not inside a longer word, number or hash); the numbers and keyed hashes of access-log lines
(timestamps, durations, lengths, ``*_hmac``) and progress bars are left out of the search, so that an age such
as "93" is not found in a duration of 93.4 ms.

The server is ``ragmed serve`` in a subprocess on 127.0.0.1 over a copy of the index (writes do not touch the
original), logging at DEBUG, with a write key and rate limits lifted. By default it runs twice: once as
configured out of the box (questions and queries logged only as keyed hashes), once with
``RAGMED_LOGGING__DEIDENTIFIED_COPY=true`` (a de-identified copy of each question and query is logged too, so an
identifier the recognisers miss reaches the log). Each identifier, in the text it was planted in, goes to:
``POST /v1/search`` (also as ``X-Request-ID``), ``GET /v1/concepts?q=``, ``GET /v1/documents/{id}``,
``GET /healthz?patient=``, ``POST /v1/ask`` (JSON and streamed), ``POST /v1/chat/completions``, ``POST /v1/ask``
with an invalid field holding it, ``POST /v1/documents`` (the identifier as the document id, in batches) and
``DELETE /v1/documents/{id}``.

    RAGMED_INDEX__ROOT=/path/to/indexes python bench/log_privacy.py --index small
    python bench/log_privacy.py --modes deidentified --sets tests/fixtures/identifiers/held_out.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
from load import wait_ready

REPO = Path(__file__).resolve().parents[1]
SETS = [REPO / "tests/fixtures/identifiers/safe_harbor.jsonl", REPO / "tests/fixtures/identifiers/held_out.jsonl"]
KEY = "bench-writer-" + os.urandom(8).hex()


def load_rows(paths: list[Path]) -> list[dict[str, str]]:
    rows = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append({**json.loads(line), "set": path.stem})
    return rows


def forms(identifier: str) -> set[str]:
    """The ways ``identifier`` could be written in a log line, lower-cased."""
    found = {identifier, quote(identifier), quote(identifier, safe=""), quote_plus(identifier),
             json.dumps(identifier)[1:-1], json.dumps(identifier, ensure_ascii=False)[1:-1]}
    return {f.lower() for f in found}


_NOT_TEXT = re.compile(r"^(?:h:|addr:)?[0-9a-f]{16,}$")
_PROGRESS = re.compile(r"\d+%\|[^|\n]*\|\s*\d+/\d+\s*\[[^\]\n]*\]")  # a progress bar: "5%|▍ | 5/105 [00:00<...]"


def searchable(logged: str) -> str:
    """The log, lower-cased, with what cannot carry sent text taken out of access-log lines: numbers (times,
    durations, statuses, lengths) and keyed hashes; progress bars taken out of the rest."""
    out = []
    for line in _PROGRESS.sub(" ", logged).splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            kept = {k: v for k, v in record.items() if not isinstance(v, (int, float)) and not k.endswith("_hmac")
                    and not (isinstance(v, str) and _NOT_TEXT.match(v))}
            line = json.dumps(kept)
        out.append(line.lower())
    return "\n".join(out)


def found(form: str, text: str) -> bool:
    """Whether ``form`` stands in ``text`` as a token of its own: not inside a longer word, number or hash."""
    return re.search(rf"(?<![0-9a-z])(?<!\d\.){re.escape(form)}(?![0-9a-z])(?!\.\d)", text) is not None


def start(index: str, root: Path, deidentified: bool, log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAGMED_INDEX__ROOT": str(root),
           "RAGMED_API__RATE_LIMIT_PER_MINUTE": "1000000000", "RAGMED_API__API_KEYS": json.dumps([f"bench:{KEY}"]),
           "RAGMED_API__ANSWER_QUEUE": "64", "RAGMED_LOGGING__LEVEL": "DEBUG",
           "RAGMED_LOGGING__DEIDENTIFIED_COPY": "true" if deidentified else "false"}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "ragmed", "serve", "--host", "127.0.0.1", "--port",
                                    str(port), "--index", index], cwd=REPO, env=env, stdout=out, stderr=out)
    return f"http://127.0.0.1:{port}", process


async def send_one(client: httpx.AsyncClient, row: dict[str, str], gate: asyncio.Semaphore,
                   statuses: collections.Counter[str]) -> None:
    text, ident = row["text"], row["identifier"]
    path = "/v1/documents/" + quote(ident, safe="")
    calls = [
        ("POST", "/v1/search", {"json": {"query": text}, "headers": {"X-Request-ID": ident.encode()}}),
        ("GET", "/v1/concepts", {"params": {"q": text}}),
        ("GET", path, {}),
        ("GET", "/healthz", {"params": {"patient": ident}}),
        ("POST", "/v1/ask", {"json": {"question": text}}),
        ("POST", "/v1/ask", {"json": {"question": text, "stream": True}}),
        ("POST", "/v1/chat/completions", {"json": {"messages": [{"role": "user", "content": text}]}}),
        ("POST", "/v1/ask", {"json": {"question": text, "k": ident}}),
    ]
    async with gate:
        for method, url, kwargs in calls:
            label = f"{method} {'/v1/documents/{id}' if url == path else url}"
            try:
                response = await client.request(method, url, **kwargs)
                statuses[f"{label} {response.status_code}"] += 1
            except httpx.HTTPError as exc:
                statuses[f"{label} {type(exc).__name__}"] += 1


async def send_all(url: str, rows: list[dict[str, str]], concurrency: int, batch: int) -> collections.Counter[str]:
    statuses: collections.Counter[str] = collections.Counter()
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=600, headers={"X-API-Key": KEY}) as client:
        await asyncio.gather(*(send_one(client, row, gate, statuses) for row in rows))
        for i in range(0, len(rows), batch):  # writes one batch at a time: each is one commit
            docs = [{"id": r["identifier"], "text": r["text"]} for r in rows[i:i + batch]]
            response = await client.post("/v1/documents", json=docs)
            statuses[f"POST /v1/documents {response.status_code}"] += 1
        for row in rows:
            response = await client.delete("/v1/documents/" + quote(row["identifier"], safe=""))
            statuses[f"DELETE /v1/documents/{{id}} {response.status_code}"] += 1
    return statuses


def run(index: str, source_root: Path, rows: list[dict[str, str]], deidentified: bool, concurrency: int,
        batch: int, ready_timeout: float, keep: Path | None = None) -> int:
    """Serve a copy of the index, send every row through every endpoint, print what reached the logs.

    Returns:
        How many identifiers were found in the logs.
    """
    with tempfile.TemporaryDirectory(prefix="ragmed-log-privacy-") as tmp:
        root = Path(tmp) / "indexes"
        shutil.copytree(source_root / index, root / index, ignore=shutil.ignore_patterns(".lock", "*.lock"))
        log = Path(tmp) / "server.log"
        url, process = start(index, root, deidentified, log)
        try:
            wait_ready(url, ready_timeout, process)
            started = time.monotonic()
            statuses = asyncio.run(send_all(url, rows, concurrency, batch))
            elapsed = time.monotonic() - started
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        logged = log.read_text(encoding="utf-8", errors="replace")
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(log, keep / f"server-{'deidentified' if deidentified else 'default'}.log")
    lowered = searchable(logged)
    lines = logged.splitlines()
    access = [line for line in lines if line.startswith('{"event": "request"')]
    leaks = [r for r in rows if any(found(form, lowered) for form in forms(r["identifier"]))]
    per_class = collections.Counter(r["class"] for r in leaks)
    per_set = collections.Counter(r["set"] for r in leaks)
    mode = "with the de-identified copy" if deidentified else "as configured by default (keyed hashes only)"
    print(f"\n== {mode}")
    print(f"{len(rows)} identifiers ({dict(collections.Counter(r['set'] for r in rows))}), {sum(statuses.values())} "
          f"requests in {elapsed:.0f} s; {len(lines)} log lines, {len(access)} access-log lines")
    print("responses: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
    print(f"identifiers found in the logs: {len(leaks)} of {len(rows)} "
          f"(by set {dict(per_set)}, by class {dict(per_class)})")
    for row in leaks[:40]:
        print(f"  {row['set']} {row['class']}: {row['identifier']!r}")
    return len(leaks)


def main(argv: list[str] | None = None) -> int:
    """Run the bench; exit status 1 when an identifier was found in the default configuration's logs."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default="starter", help="index to serve (copied first)")
    parser.add_argument("--root", type=Path, default=None, help="index root (RAGMED_INDEX__ROOT or ./indexes)")
    parser.add_argument("--sets", type=Path, nargs="+", default=SETS, help="identifier sets (JSON lines)")
    parser.add_argument("--modes", nargs="+", choices=["default", "deidentified"], default=["default", "deidentified"])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch", type=int, default=25, help="documents per POST /v1/documents")
    parser.add_argument("--ready-timeout", type=float, default=1800.0)
    parser.add_argument("--keep-logs", type=Path, help="copy the server logs into this folder")
    args = parser.parse_args(argv)
    root = args.root or Path(os.environ.get("RAGMED_INDEX__ROOT", REPO / "indexes"))
    rows = load_rows(args.sets)
    failed = False
    for mode in args.modes:
        leaks = run(args.index, root, rows, mode == "deidentified", args.concurrency, args.batch, args.ready_timeout,
                    args.keep_logs)
        failed = failed or (mode == "default" and leaks > 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
