"""Time the triage adds per question, with the embedding model already loaded, on 2 CPU cores.

Each question goes the engine's way: concepts linked and the query expanded (retrieval does this anyway),
the expanded query embedded by dense retrieval (into the embedder's query cache), then the triage. Printed:
the triage's own time with the embedding shared (what a question really adds), the time when it must embed
the question itself (BM25-only retrieval), and the embedding alone for comparison.

    python bench/triage.py [--n 200] [--threads 2]

Questions come from the safety bank (presentations, routine and personal texts, a fixed sample).
Figures on a machine shared with other work are noisy; run it on an idle one to quote.
"""

from __future__ import annotations

import argparse
import os
import random
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="questions timed")
    parser.add_argument("--threads", type=int, default=2, help="CPU cores (torch threads and affinity)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))[: args.threads]
        os.sched_setaffinity(0, cores)
    import torch

    torch.set_num_threads(args.threads)
    from ragmed.config import load_settings
    from ragmed.engine import shared_embedder
    from ragmed.safety import bank_folder, load_bank, make_triage
    from ragmed.safety.concepts import expander, open_concepts

    settings = load_settings()
    embedder = shared_embedder(settings)
    service = open_concepts(settings)
    link = expander(service)
    triage = make_triage(settings, embedder, service.store)
    bank = load_bank(bank_folder(settings.knowledge, settings.safety.bank))
    texts = [e.text for name in ("presentations", "routine", "personal") for e in bank.examples(name)]
    questions = random.Random(args.seed).sample(texts, min(args.n, len(texts)))
    for q in questions[:10]:  # warm-up: linker, embedder and numpy paths
        text, concepts = link(q + " ?")
        triage.assess(q + " ?", "public", concepts, embed_text=text)
    shared, alone, embed, linking = [], [], [], []
    for i, question in enumerate(questions):
        question = f"{question} ({i})"  # never in any cache
        started = time.perf_counter()
        text, concepts = link(question)
        linking.append(time.perf_counter() - started)
        started = time.perf_counter()
        embedder.encode_query(text)
        embed.append(time.perf_counter() - started)
        started = time.perf_counter()
        triage.assess(question, "public", concepts, embed_text=text)
        shared.append(time.perf_counter() - started)
        started = time.perf_counter()
        triage.assess(question, "public", concepts)
        alone.append(time.perf_counter() - started)

    def row(name: str, values: list[float]) -> str:
        p50, p95 = np.percentile(np.asarray(values) * 1000, [50, 95])
        return f"| {name} | {p50:.2f} | {p95:.2f} |"

    print(f"triage backend: {triage.name}; {len(questions)} questions; {args.threads} CPU threads; "
          f"{os.cpu_count()} cores on the machine")
    print("| step | p50 ms | p95 ms |\n|---|---|---|")
    print(row("triage added per question (embedding shared with dense retrieval)", shared))
    print(row("triage when it embeds the question itself (BM25-only retrieval)", alone))
    print(row("embedding the expanded query (dense retrieval does this anyway)", embed))
    print(row("concept linking and query expansion (retrieval does this anyway)", linking))


if __name__ == "__main__":
    main()
