"""PubMedQA public 500 yes/no/maybe accuracy with the configured generator (Gemma 3 270M by default).

Two settings, printed beside the majority-class baseline ("yes", 55.2% on the official test set):
- oracle: the question's own abstract (its CONTEXTS, without the conclusion) is the evidence;
- retrieval: the evidence is what ``Engine.search`` retrieves for the question from the index (the starter
  index holds the PubMedQA abstracts, so the gold abstract may or may not be among the passages).

Each option is scored by the model's log-likelihood after a few-shot prompt (``Answerer.choose``).

    python bench/pubmedqa_accuracy.py [--mode oracle|retrieval|both] [--limit N] [--backend llamacpp]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ragmed.config import load_settings
from ragmed.generate.answer import Answerer
from ragmed.types import Passage

DATA = Path(__file__).resolve().parents[1] / "knowledge" / "literature" / "pubmedqa" / "pqal_public_500.json"
OPTIONS = {"yes": "yes", "no": "no", "maybe": "maybe"}
MAJORITY_BASELINE = 55.2


def oracle_passages(pmid: str, rec: dict) -> list[Passage]:
    out, pos = [], 0
    for i, (label, ctx) in enumerate(zip(rec["LABELS"], rec["CONTEXTS"])):
        out.append(Passage(chunk_id=i, doc_id=f"pubmedqa:{pmid}", text=ctx, score=1.0, start=pos, end=pos + len(ctx), section=label))
        pos += len(ctx) + 1
    return out


def run(mode: str, data: dict, pmids: list[str], answerer: Answerer) -> None:
    search = None
    if mode == "retrieval":
        from ragmed.engine import Engine

        engine = Engine.open(settings=answerer.settings)
        search = engine.search
    preds, gold_hits, t0 = [], 0, time.perf_counter()
    for pmid in pmids:
        rec = data[pmid]
        if search is None:
            passages = oracle_passages(pmid, rec)
        else:
            passages = search(rec["QUESTION"])
            gold_hits += any(pmid in p.doc_id for p in passages)
        choice, _ = answerer.choose(rec["QUESTION"], OPTIONS, passages)
        preds.append(choice)
    elapsed = time.perf_counter() - t0
    golds = [data[p]["final_decision"] for p in pmids]
    acc = 100 * sum(p == g for p, g in zip(preds, golds)) / len(pmids)
    majority = 100 * Counter(golds).most_common(1)[0][1] / len(pmids)
    print(f"{mode:9s} n={len(pmids)}  accuracy {acc:.1f}%  (majority class on these {majority:.1f}%, "
          f"published majority baseline {MAJORITY_BASELINE}%)  predicted {dict(Counter(preds))}  "
          f"{elapsed / len(pmids):.2f} s/question")
    if search is not None:
        print(f"{'':9s} gold abstract among retrieved passages: {100 * gold_hits / len(pmids):.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["oracle", "retrieval", "both"], default="both")
    parser.add_argument("--limit", type=int, default=None, help="first N questions (default all 500)")
    parser.add_argument("--backend", default="llamacpp", help="generation backend (default llamacpp: Gemma 3 270M)")
    args = parser.parse_args()
    if not DATA.exists():
        raise SystemExit(f"PubMedQA file not found: {DATA}")
    data = json.loads(DATA.read_text(encoding="utf-8"))
    pmids = list(data)[: args.limit] if args.limit else list(data)
    settings = load_settings(generation={"backend": args.backend})
    answerer = Answerer(settings)
    print(f"generator: {getattr(answerer.generator(), 'name', 'extractive')}")
    for mode in (["oracle", "retrieval"] if args.mode == "both" else [args.mode]):
        run(mode, data, pmids, answerer)


if __name__ == "__main__":
    main()
