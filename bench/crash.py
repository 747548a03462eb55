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

With ``--real`` the two writers are the product itself: ``ragmed serve`` (a real server on 127.0.0.1, written
to through ``POST /v1/documents`` and ``DELETE /v1/documents/{id}`` by a client thread that logs "begin" before
each request and "ack" once it got a 2xx) and, each cycle, a run of ``ragmed add`` / ``ragmed delete`` CLI
processes (each logged "begin" before it starts and "ack" once it exited 0), with the real embedding model.
In each cycle one CLI process is killed with SIGKILL, at a random moment drawn from the time such a command
usually takes (half the kills in its last tenth, where the commit is), and the server too every fifth cycle on
average; the same checks follow every cycle. A delete answered "not found" (404, or "deleted 0") for a document
its writer had acknowledged and not begun deleting counts as lost, and any write that fails otherwise is counted
as an error: the run fails on either, and when a writer acknowledged nothing.

Usage:
    python bench/crash.py [--cycles 200] [--root /tmp/ragmed-crash] [--seed 0]
    python bench/crash.py --real [--cycles 200] [--root /tmp/ragmed-crash-real]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from load import wait_ready  # noqa: E402

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


def check(root: Path, folder: Path | None = None, state: str = "hash") -> dict[str, int]:
    """Open the index (``root/idx`` unless ``folder`` is given) afresh with repairs off and count what is wrong.

    ``state`` is the docstore column a logged write's digest is compared with: the document hash, or (for the
    real writers, whose hash the product computes) the title, which names the version written.
    """
    folder = folder or root / "idx"
    strict = settings(root).model_copy(update={"repair_on_open": False})
    store = IndexStore.open(folder, MODEL if state == "hash" else None, DIM if state == "hash" else None, strict)
    try:
        snapshot = store.current()
        revision, stored = store.docstore.live_ids()
        assert revision == snapshot.revision
        dense, lexical = snapshot.dense.ids(), snapshot.lexical.ids()
    finally:
        store.close()
    db = sqlite3.connect(str(folder / "docstore.sqlite"))
    column = "hash" if state == "hash" else "replace(title, ' ', '_')"
    documents = dict(db.execute(f"SELECT id, {column} FROM documents"))
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


def _check_paused(server: subprocess.Popen[bytes], measure: Callable[[], dict[str, int]], totals: dict[str, int],
                  label: str, report: bool) -> dict[str, int]:
    """Check the index with the server paused (SIGSTOP, unless it was just killed), add the faults found to
    ``totals`` and print them (and every ``report``-th cycle)."""
    if server.poll() is None:
        server.send_signal(signal.SIGSTOP)
    try:
        found = measure()
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGCONT)
    for key in totals:
        totals[key] += found[key]
    bad = {k: found[k] for k in totals if found[k]}
    if bad or report:
        print(f"{label}: {found}" + (f"  PROBLEM {bad}" if bad else ""), flush=True)
    return found


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
        last = _check_paused(server, lambda: check(root), totals, f"cycle {cycle + 1}", (cycle + 1) % 20 == 0)
    server.send_signal(signal.SIGKILL)
    server.wait()
    print(json.dumps({"cycles": cycles, "sigkills": kills, "final": last, "totals": totals,
                      "seconds": round(time.perf_counter() - started, 1)}))
    return 1 if any(totals.values()) else 0


# -- the product's own writers: `ragmed serve` and `ragmed add` / `ragmed delete` ------------------------------
KEY = "crash-bench-writer-key"


def _record(doc_id: str, version: int, rng: random.Random) -> tuple[dict[str, str], str]:
    """A document as the API and the CLI take it, and the digest the check compares (its title, spaces as _)."""
    text = " ".join(f"{doc_id} version {version} note {i}: " + " ".join(rng.choices(WORDS, k=12)) + "."
                    for i in range(rng.randint(1, 3)))
    title = f"{doc_id} v{version}"
    return {"id": doc_id, "title": title, "text": text, "source": "bench"}, title.replace(" ", "_")


class BeginAck:
    """The "begin" / "ack" log of one writer, each line fsynced before the write it announces goes on."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("a", encoding="utf-8")

    def __call__(self, kind: str, entry: str) -> None:
        self.file.write(f"{kind} {entry}\n")
        self.file.flush()
        os.fsync(self.file.fileno())


def _env(root: Path) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "RAGMED_INDEX__ROOT": str(root / "indexes"),
            "RAGMED_INDEX__MERGE_MIN_CHANGES": "25", "RAGMED_INDEX__WRITER_TIMEOUT_S": "300",
            "RAGMED_API__API_KEYS": json.dumps([f"crash:{KEY}"]), "RAGMED_API__RATE_LIMIT_PER_MINUTE": "1000000000",
            "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _serve(root: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """Start `ragmed serve` on a free loopback port and wait until it answers /readyz."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (root / "serve.log").open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "ragmed", "serve", "--host", "127.0.0.1", "--port",
                                    str(port), "--index", "idx"], env=_env(root), cwd=root, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, 300, process)
    return url, process


class ServerWriter(threading.Thread):
    """Adds, updates and deletes through the running server's API until stopped; ``url`` None while it is down."""

    def __init__(self, root: Path, seed: int) -> None:
        super().__init__(daemon=True)
        self.root, self.rng, self.url = root, random.Random(seed), None
        self.stopped = threading.Event()
        self.acks = self.errors = self.lost = 0

    def run(self) -> None:
        log, live, client = BeginAck(self.root / "server.log"), [], httpx.Client(timeout=600,
                                                                                 headers={"X-API-Key": KEY})
        maybe_gone: set[str] = set()  # deletes begun but not acknowledged: they may have committed
        for step in itertools.count():
            if self.stopped.is_set():
                return
            url = self.url
            if url is None:
                time.sleep(0.05)
                continue
            action = self.rng.choices(["add", "update", "delete"], weights=[5, 3, 2])[0] if live else "add"
            doc_id = f"server:{step}" if action == "add" else self.rng.choice(live)
            try:
                if action == "delete":
                    entry = f"delete {doc_id} -"
                    log("begin", entry)
                    response = client.delete(f"{url}/v1/documents/{doc_id}")
                else:
                    record, digest = _record(doc_id, self.rng.randint(0, 10**9), self.rng)
                    entry = f"add {doc_id} {digest}"
                    log("begin", entry)
                    response = client.post(f"{url}/v1/documents", json=[record])
            except httpx.TransportError:
                if action == "delete":
                    maybe_gone.add(doc_id)
                time.sleep(0.2)  # the server was killed: this write stays "begun", never acknowledged
                continue
            if action == "delete" and response.status_code == 404 and doc_id not in maybe_gone:
                self.lost += 1
                print(f"PROBLEM server delete {doc_id}: acknowledged earlier, now not found", flush=True)
            elif response.status_code >= 300 and not (action == "delete" and response.status_code == 404):
                self.errors += 1
                print(f"server write {entry}: {response.status_code} {response.text[:200]}", flush=True)
                continue
            log("ack", entry)
            self.acks += 1
            maybe_gone.discard(doc_id)
            if action == "delete":
                live.remove(doc_id)
            elif doc_id not in live:
                live.append(doc_id)
            try:  # readers share the server with the writes
                client.post(f"{url}/v1/search", json={"query": self.rng.choice(WORDS), "k": 5})
            except httpx.TransportError:
                continue


class CliWriter:
    """Runs ``ragmed add`` / ``ragmed delete`` processes, 1-3 a cycle, and kills one of them."""

    def __init__(self, root: Path, rng: random.Random, log: BeginAck, live: list[str]) -> None:
        self.root, self.rng, self.log, self.live = root, rng, log, live
        self.took = {"add": [8.0], "delete": [2.0]}  # seconds a command took, latest last
        self.maybe_gone: set[str] = set()
        self.acks = self.errors = self.lost = self.late_kills = 0

    def cycle(self, cycle: int) -> bool:
        """Run the cycle's commands; whether one was killed."""
        steps = self.rng.randint(1, 3)
        doomed = self.rng.randrange(steps)
        with (self.root / "cli.err").open("ab") as err:
            for step in range(steps):
                action = self.rng.choices(["add", "update", "delete"], weights=[5, 3, 2])[0] if self.live else "add"
                doc_id = f"cli:{cycle}:{step}" if action == "add" else self.rng.choice(self.live)
                kind = "delete" if action == "delete" else "add"
                if kind == "delete":
                    entry, command = f"delete {doc_id} -", ["delete", "-i", "idx", "--json", doc_id]
                else:
                    record, digest = _record(doc_id, self.rng.randint(0, 10**9), self.rng)
                    path = self.root / "cli-input.jsonl"
                    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
                    entry, command = f"add {doc_id} {digest}", ["add", "-i", "idx", str(path)]
                typical = statistics.median(self.took[kind][-9:])
                # Half the kills in the last tenth of the usual run time, where the commit happens.
                share = self.rng.uniform(0.9, 1.02) if self.rng.random() < 0.5 else self.rng.uniform(0.2, 0.9)
                limit = typical * share if step == doomed else None
                self.log("begin", entry)
                started = time.monotonic()
                process = subprocess.Popen([sys.executable, "-m", "ragmed", *command], env=_env(self.root),
                                           cwd=self.root, stdout=subprocess.PIPE, stderr=err)
                try:
                    out, _ = process.communicate(timeout=limit)
                except subprocess.TimeoutExpired:
                    process.send_signal(signal.SIGKILL)
                    process.communicate()
                    self.late_kills += share >= 0.9
                    if kind == "delete":
                        self.maybe_gone.add(doc_id)
                    return True
                self.took[kind].append(time.monotonic() - started)
                if process.returncode != 0:
                    self.errors += 1
                    print(f"cli {entry}: exit {process.returncode} (see {self.root / 'cli.err'})", flush=True)
                    continue
                if kind == "delete" and json.loads(out)["deleted"] == 0 and doc_id not in self.maybe_gone:
                    self.lost += 1
                    print(f"PROBLEM cli delete {doc_id}: acknowledged earlier, now not found", flush=True)
                self.log("ack", entry)
                self.acks += 1
                self.maybe_gone.discard(doc_id)
                if kind == "delete":
                    self.live.remove(doc_id)
                elif doc_id not in self.live:
                    self.live.append(doc_id)
        return False


def run_real(cycles: int, root: Path, seed: int) -> int:
    rng = random.Random(seed)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    cli_log = BeginAck(root / "cli.log")
    seeds = [_record(f"seed:{i}", 0, rng) for i in range(3)]
    (root / "seed.jsonl").write_text("".join(json.dumps(r) + "\n" for r, _ in seeds), encoding="utf-8")
    for record, digest in seeds:
        cli_log("begin", f"add {record['id']} {digest}")
    subprocess.run([sys.executable, "-m", "ragmed", "build", "-i", "idx", str(root / "seed.jsonl")], env=_env(root),
                   cwd=root, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for record, digest in seeds:
        cli_log("ack", f"add {record['id']} {digest}")
    folder = root / "indexes" / "idx"
    totals = {"lost": 0, "phantoms": 0, "duplicates": 0, "mismatch": 0}
    kills = {"server": 0, "cli": 0}
    cli = CliWriter(root, rng, cli_log, [record["id"] for record, _ in seeds])
    writer = ServerWriter(root, seed)
    writer.url, server = _serve(root)
    writer.start()
    started = time.perf_counter()
    last: dict[str, int] = {}
    for cycle in range(cycles):
        if server.poll() is not None:
            writer.url, server = _serve(root)
        kills["cli"] += cli.cycle(cycle)
        if rng.random() < 0.2:
            server.send_signal(signal.SIGKILL)
            server.wait()
            writer.url = None
            kills["server"] += 1
        last = _check_paused(server, lambda: check(root, folder, state="title"), totals,
                             f"cycle {cycle + 1} (server writes acknowledged {writer.acks})", (cycle + 1) % 10 == 0)
    writer.stopped.set()
    server.send_signal(signal.SIGKILL)
    server.wait()
    totals["lost"] += writer.lost + cli.lost
    errors = {"server": writer.errors, "cli": cli.errors}
    print(json.dumps({"mode": "real", "cycles": cycles, "sigkills": kills, "cli_kills_in_last_tenth": cli.late_kills,
                      "acknowledged": {"server": writer.acks, "cli": cli.acks}, "write_errors": errors,
                      "final": last, "totals": totals, "seconds": round(time.perf_counter() - started, 1)}))
    return 1 if any(totals.values()) or any(errors.values()) or not (writer.acks and cli.acks) else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--root", type=Path, default=Path("/tmp/ragmed-crash"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real", action="store_true", help="write with `ragmed serve` and the `ragmed` CLI")
    parser.add_argument("--worker", choices=["server", "cli"], help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.root, args.worker, args.seed, args.steps)
        return
    if args.real:
        raise SystemExit(run_real(args.cycles, args.root if args.root != Path("/tmp/ragmed-crash") else
                                  Path("/tmp/ragmed-crash-real"), args.seed))
    raise SystemExit(run(args.cycles, args.root, args.seed))


if __name__ == "__main__":
    main()
