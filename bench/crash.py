"""SIGKILL cycles over add/update/delete with a long-lived writer and CLI-like writers on one index.

A long-lived "server" process and, each cycle, a short-lived "cli" process write to the same index at
once (adds, updates, deletes; one process's documents never overlap the other's). Each logs "begin"
before a commit and "ack" once it returned (fsynced). Each cycle the cli is killed with SIGKILL at a
random moment, and every third cycle (on average) the server too; the server is paused while the
index is checked, then resumed (or restarted when it was killed). After every cycle, opening the
index afresh with repairs off must succeed and:

- FAISS ids = BM25 ids = the docstore's chunk ids (counts and ids),
- 0 acknowledged documents lost: every document stands as its last acknowledged write left it, or
  as a write begun after it (in flight when killed) left it,
- 0 phantoms: no document or chunk that no begun write could have produced,
- 0 duplicates: no document with chunks of two versions, no id twice in FAISS.

Vectors are synthetic (the mechanics do not depend on the model); merges are made frequent
(``merge_min_changes`` 25) so that kills also land inside merges.

Usage:
    python bench/crash.py [--cycles 200] [--root /tmp/ragmed-crash] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragmed.config import IndexSettings  # noqa: E402
from ragmed.index.store import IndexStore  # noqa: E402
from ragmed.types import Chunk, Document  # noqa: E402

DIM = 16
MODEL = "bench-synthetic"
WORDS = ["asthma", "insulin", "fever", "cough", "statin", "aspirin", "migraine", "diabetes", "kidney", "liver", "stroke", "sepsis", "anemia", "vaccine", "tumour", "biopsy", "dose", "trial", "cohort", "outcome", "risk", "therapy", "symptom"]


def settings(root: Path) -> IndexSettings:
    return IndexSettings(root=root, use_gpu=False, merge_min_changes=25, merge_fraction=0.2, writer_timeout_s=60)


def make(doc_id: str, version: int, rng: random.Random) -> tuple[Document, list[Chunk], np.ndarray]:
    n = rng.randint(1, 3)
    text = " ".join(f"{doc_id} v{version} part {i}: " + " ".join(rng.choices(WORDS, k=12)) + "." for i in range(n))
    document = Document(id=doc_id, source="bench", title=f"{doc_id} v{version}", text=text)
    chunks, start = [], 0
    for i, part in enumerate(text.split(". ")):
        chunks.append(Chunk(doc_id=doc_id, ordinal=i, text=part, start=start, end=start + len(part)))
        start += len(part) + 2
    vectors = np.random.default_rng(rng.randint(0, 2**31)).standard_normal((len(chunks), DIM)).astype(np.float32)
    return document, chunks, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def worker(root: Path, role: str, seed: int, steps: int) -> None:
    """Write forever (server) or ``steps`` times (cli), logging begin/ack of each commit."""
    rng = random.Random(seed)
    store = IndexStore.open(root / "idx", MODEL, DIM, settings(root))
    log = open(root / f"{role}.log", "a", encoding="utf-8")  # noqa: SIM115 - written until the process is killed
    mine = [line.split()[2] for line in (root / f"{role}.log").read_text().splitlines() if line.startswith("ack add")]
    live = sorted(set(mine))
    print("ready", flush=True)
    step = 0
    while role == "server" or step < steps:
        step += 1
        action = rng.choices(["add", "update", "delete"], weights=[5, 3, 2])[0] if live else "add"
        if action == "add":
            doc_id = f"{role}:{seed}:{step}"
        else:
            doc_id = rng.choice(live)
        version = rng.randint(0, 10**9)
        if action == "delete":
            entry = f"delete {doc_id} -"
            log.write(f"begin {entry}\n")
            log.flush()
            os.fsync(log.fileno())
            store.commit(deletes=[doc_id])
            live.remove(doc_id)
        else:
            document, chunks, vectors = make(doc_id, version, rng)
            entry = f"add {doc_id} {document.hash}"
            log.write(f"begin {entry}\n")
            log.flush()
            os.fsync(log.fileno())
            store.commit(upserts=[(document, chunks, vectors)])
            if doc_id not in live:
                live.append(doc_id)
        log.write(f"ack {entry}\n")
        log.flush()
        os.fsync(log.fileno())
        if role == "server":
            store.dense_search(np.ones(DIM, dtype=np.float32), 5, None)
            store.bm25_search(rng.choice(WORDS), 5, None)
            time.sleep(0.01)


def expected(root: Path) -> tuple[dict[str, set[str | None]], set[str]]:
    """For each document id, the states it may be in (a hash, or None for absent), and every id ever begun."""
    allowed: dict[str, set[str | None]] = {}
    begun: set[str] = set()
    for role in ("server", "cli"):
        path = root / f"{role}.log"
        if not path.exists():
            continue
        acked: dict[str, str | None] = {}
        pending: dict[str, set[str | None]] = {}
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) != 4:
                continue  # a line cut by the kill
            kind, action, doc_id, digest = parts
            state = None if action == "delete" else digest
            if kind == "begin":
                begun.add(doc_id)
                pending.setdefault(doc_id, set()).add(state)
            else:
                acked[doc_id] = state
                pending[doc_id] = set()
        for doc_id in set(acked) | set(pending):
            allowed[doc_id] = {acked.get(doc_id)} | pending.get(doc_id, set())
    return allowed, begun


def check(root: Path) -> dict[str, int]:
    """Open the index afresh with repairs off and count what is wrong."""
    strict = settings(root).model_copy(update={"repair_on_open": False})
    store = IndexStore.open(root / "idx", MODEL, DIM, strict)
    try:
        snapshot = store.current()
        revision, stored = store.docstore.live_ids()
        assert revision == snapshot.revision
        dense, lexical = snapshot.dense.ids(), snapshot.lexical.ids()
    finally:
        store.close()
    db = sqlite3.connect(str(root / "idx" / "docstore.sqlite"))
    documents = dict(db.execute("SELECT id, hash FROM documents"))
    doubled = db.execute("SELECT COUNT(*) FROM (SELECT doc_id FROM chunks GROUP BY doc_id "
                         "HAVING COUNT(*) != COUNT(DISTINCT ordinal))").fetchone()[0]
    db.close()
    allowed, begun = expected(root)
    lost = sum(1 for doc_id, states in allowed.items() if doc_id not in documents and None not in states)
    phantom = sum(1 for doc_id, digest in documents.items() if doc_id not in begun or digest not in allowed[doc_id])
    return {
        "documents": len(documents), "chunks": len(stored), "faiss": len(dense), "bm25": len(lexical),
        "mismatch": int(not (np.array_equal(dense, stored) and np.array_equal(lexical, stored))),
        "lost": lost, "phantoms": phantom,
        "duplicates": int(doubled) + int(len(np.unique(dense)) != len(dense)),
    }


def spawn(root: Path, role: str, seed: int, steps: int = 0) -> subprocess.Popen[bytes]:
    """Start a worker and wait until it has opened the index."""
    process = subprocess.Popen([sys.executable, __file__, "--worker", role, "--root", str(root), "--seed", str(seed),
                                "--steps", str(steps)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    process.stdout.readline()  # "ready": the index is open, writes begin now
    return process


def run(cycles: int, root: Path, seed: int) -> int:
    rng = random.Random(seed)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    IndexStore.create(root / "idx", MODEL, DIM, settings(root)).close()
    totals = {"lost": 0, "phantoms": 0, "duplicates": 0, "mismatch": 0}
    kills = {"server": 0, "cli": 0}
    server = spawn(root, "server", seed)
    started = time.perf_counter()
    last: dict[str, int] = {}
    for cycle in range(cycles):
        if server.poll() is not None:
            server = spawn(root, "server", seed * 1000 + cycle)
        cli = spawn(root, "cli", seed * 1000 + cycle, steps=rng.randint(1, 12))
        time.sleep(rng.uniform(0.0, 0.6))
        if cli.poll() is None:
            cli.send_signal(signal.SIGKILL)
            kills["cli"] += 1
        cli.wait()
        if rng.random() < 0.33:
            server.send_signal(signal.SIGKILL)
            server.wait()
            kills["server"] += 1
        else:
            server.send_signal(signal.SIGSTOP)
        try:
            last = check(root)
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGCONT)
        for key in totals:
            totals[key] += last[key]
        bad = {k: last[k] for k in totals if last[k]}
        if bad or (cycle + 1) % 20 == 0:
            print(f"cycle {cycle + 1}: {last}" + (f"  PROBLEM {bad}" if bad else ""), flush=True)
    server.send_signal(signal.SIGKILL)
    server.wait()
    print(json.dumps({"cycles": cycles, "sigkills": kills, "final": last, "totals": totals,
                      "seconds": round(time.perf_counter() - started, 1)}))
    return 1 if any(totals.values()) else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--root", type=Path, default=Path("/tmp/ragmed-crash"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", choices=["server", "cli"], help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.root, args.worker, args.seed, args.steps)
        return
    raise SystemExit(run(args.cycles, args.root, args.seed))


if __name__ == "__main__":
    main()
