"""Retrieval with and without ontology query expansion on lay-term queries built from exact synonyms.

Each query is an exact synonym of a concept that shares no word with the concept's label (DO "heart
attack" for myocardial infarction, HPO "high blood pressure"-style lay terms), optionally in a question
template. Gold passages are those "about the concept":

* ``--gold cui`` (default): MedQuAD documents of the index whose focus UMLS CUI is one of the concept's
  UMLS codes (merged across ontologies): independent of any retriever.
* ``--gold label``: passages that contain the concept's preferred label, found by searching the label
  (a proxy, used when the index has no MedQuAD).

Concept cards (``concept:...`` documents) are left out of gold and results unless ``--include-cards``.
The same engine is searched twice per query, with ``retrieval.expand_query`` off and on.

Usage:
    python bench/expansion_recall.py [--index starter] [--k 10] [--modes dense,bm25,hybrid] [--max-queries 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _words(text: str) -> set[str]:
    from ragmed.ontology.normalise import STOPWORDS, folded_words

    return {w for w in folded_words(text) if w not in STOPWORDS}


def lay_queries(store, ontologies: list[str] | None, template: str, limit: int):  # type: ignore[no-untyped-def]
    """``(query, curie, label, synonym)`` for exact synonyms that share no word with their label."""
    from ragmed.ontology.normalise import is_abbreviation

    names = ontologies or [o.name for o in store.ontologies()]
    for name in names:
        for curie in store.curies(name):
            record = store.record(curie)
            if record is None or not record.label:
                continue
            label_words = _words(record.label)
            for synonym in record.synonyms.get("exact", []):
                if len(synonym) >= 4 and not is_abbreviation(synonym) and not (_words(synonym) & label_words) \
                        and _words(synonym):
                    yield template.format(synonym), curie, record.label, synonym
                    break


def medquad_by_cui(engine) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    """MedQuAD document ids of the index, keyed by focus UMLS CUI."""
    from ragmed.knowledge import load_manifest
    from ragmed.sources import read_path

    by_cui: dict[str, set[str]] = {}
    for source in load_manifest(engine.settings.knowledge).literature:
        if source.reader != "medquad":
            continue
        for doc in read_path(source.path, "medquad", lambda e: None):
            if engine.get_document(doc.id) is None:
                continue
            for cui in doc.metadata.get("cuis", []):
                by_cui.setdefault(cui, set()).add(doc.id)
    return by_cui


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default=None, help="index name (settings default when omitted)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--modes", default="dense,bm25,hybrid")
    parser.add_argument("--gold", choices=["cui", "label"], default="cui")
    parser.add_argument("--ontologies", default=None, help="comma-separated ontology names (default: all)")
    parser.add_argument("--template", default="{}", help="query template, e.g. 'What is {}?'")
    parser.add_argument("--max-queries", type=int, default=300)
    parser.add_argument("--include-cards", action="store_true")
    parser.add_argument("--show", type=int, default=8, help="example queries printed")
    args = parser.parse_args()

    from ragmed.engine import Engine
    from ragmed.ontology import ConceptStore, expand_query, get_linker
    from ragmed.ontology.normalise import key

    engine = Engine.open(index=args.index)
    store = ConceptStore(engine.store.folder / "concepts.sqlite")
    keep = (lambda doc_id: True) if args.include_cards else (lambda doc_id: not doc_id.startswith("concept:"))
    by_cui = medquad_by_cui(engine) if args.gold == "cui" else {}
    if args.gold == "cui" and not by_cui:
        sys.exit("the index holds no MedQuAD documents with CUIs; use --gold label")
    ontologies = args.ontologies.split(",") if args.ontologies else None

    cases = []
    for query, curie, label, synonym in lay_queries(store, ontologies, args.template, 10**9):
        if args.gold == "cui":
            merged = store.merged(curie)
            gold = set().union(*(by_cui.get(c, set()) for c in merged.codes.get("UMLS", []))) if merged else set()
        else:
            found = engine.search(label, k=50, mode="bm25")
            gold = {p.doc_id for p in found if keep(p.doc_id) and f" {key(label)} " in f" {key(p.text)} "}
            gold = set(sorted(gold)[:args.k])
        if gold:
            cases.append((query, curie, label, synonym, gold))
        if len(cases) >= args.max_queries:
            break
    print(f"{len(cases)} lay-term queries (gold: {args.gold}), k={args.k}, index {engine.store.folder.name}")

    settings = engine.settings.retrieval
    for mode in args.modes.split(","):
        scores = {}
        started = time.perf_counter()
        for expand in (False, True):
            settings.expand_query = expand
            recall = hits = 0.0
            for query, _, _, _, gold in cases:
                docs = [p.doc_id for p in engine.search(query, k=args.k * 3, mode=mode) if keep(p.doc_id)]
                top = set(dict.fromkeys(docs[: args.k]))
                recall += len(top & gold) / min(len(gold), args.k)
                hits += bool(top & gold)
            scores[expand] = (recall / len(cases), hits / len(cases))
        elapsed = time.perf_counter() - started
        (r0, h0), (r1, h1) = scores[False], scores[True]
        print(f"{mode:7s} recall@{args.k}: {r0:.3f} -> {r1:.3f} ({r1 - r0:+.3f})   "
              f"hit@{args.k}: {h0:.3f} -> {h1:.3f} ({h1 - h0:+.3f})   [{elapsed:.0f} s]")
    settings.expand_query = True
    linker = get_linker(store)
    for query, curie, label, _, gold in cases[: args.show]:
        added = expand_query(query, linker, store).added_terms
        print(f"  {query!r} -> {curie} {label!r}; {len(gold)} gold; expansion adds {added}")


if __name__ == "__main__":
    main()
