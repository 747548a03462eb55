"""No personal identifier reaches a log: keyed hashes stand for questions, queries, paths and addresses, and
the optional de-identified copy removes the 18 Safe Harbor identifier classes (tests/fixtures/identifiers)."""

from __future__ import annotations

import collections
import functools
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_plus

import httpx
import pytest
from conftest import REPO

from api.deid import deidentify, residue
from tests.test_api import WRITER, serve

SET = Path(__file__).parent / "fixtures" / "identifiers" / "safe_harbor.jsonl"
ROWS = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.unit
def test_the_synthetic_set_covers_all_18_classes() -> None:
    assert len(ROWS) >= 200
    assert len({r["class"] for r in ROWS}) == 18


@pytest.mark.unit
@pytest.mark.parametrize("path", [SET, REPO / "eval" / "sets" / "identifiers" / "dev.jsonl"], ids=["fixture", "dev"])
def test_deidentified_copy_recall_per_class(path: Path) -> None:
    found: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    missed = []
    for row in (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()):
        left = residue(row["identifier"], row["text"], deidentify(row["text"]))
        found[row["class"]][1] += 1
        found[row["class"]][0] += not left
        if left:
            missed.append((row["class"], row["identifier"], left))
    # One dev item is left on purpose: the shared album name "Leg ulcer progress", written as a photo reference,
    # is common words only (49 of 50 photos); every other class of both sets is found whole.
    assert sum(h for h, _ in found.values()) / sum(t for _, t in found.values()) >= 0.995, missed
    for cls, (hit, total) in found.items():
        assert hit / total >= 0.98, (cls, missed)


@pytest.mark.unit
@pytest.mark.parametrize("question", [
    "Is metformin 500 mg twice daily safe with an eGFR of 45 mL/min?", "What is Addison's disease?",
    "How is Crohn's disease treated?", "Will Lyme disease go away without antibiotics?",
    "Does SGLT2 inhibition help heart failure?", "Is a blood pressure of 160/100 dangerous?",
    "Vitamin D 50000 IU weekly for 8 weeks?", "What is the ICD-10 code E11.9?", "What does BRCA1 mean?",
])
def test_deidentification_leaves_medical_wording_alone(question: str) -> None:
    assert deidentify(question) == question


@pytest.mark.unit
@pytest.mark.parametrize(("text", "identifier"), [
    ("Eilidh has had a temperature since last night, should she have paracetamol?", "Eilidh"),
    ("hiya it's tunde, my ankle is still swollen after the sprain", "tunde"),
    ("My grandad in Tobermory keeps getting nosebleeds on apixaban", "Tobermory"),
    ("we're near oamaru and the baby has a barking cough at night", "oamaru"),
    ("Patient Szczepański, on metoprolol, asks about grapefruit", "Szczepański"),
    ("flat at 27 Glebe Crescent has damp, could it cause my wheeze?", "27 Glebe"),
    ("Booking ref 7KQ2ZP - can I fly two weeks after a knee replacement?", "7KQ2ZP"),
    ("my van LK 58 XYZ was parked at the clinic, do they check blood sugar there?", "LK 58 XYZ"),
])
def test_words_no_list_knows_are_replaced(text: str, identifier: str) -> None:
    assert not residue(identifier, text, deidentify(text)), deidentify(text)


@pytest.mark.unit
@pytest.mark.parametrize("question", [
    "Can I take Nurofen with Calpol for my toddler's fever?", "Is Zoloft safe when breastfeeding?",
    "my neighbour realised her nebuliser isnt working, what now?", "Does Crohn's disease cause anaemia?",
    "Is a HbA1c of 7.2% and eGFR 55 bad?", "Is malaria common in Kenya or Tanzania?",
    "How accurate is the Wells score for a DVT?", "Vitamin D 50000 IU weekly, then 1000 IU daily?",
])
def test_medicines_abbreviations_and_spellings_are_kept(question: str) -> None:
    assert deidentify(question) == question


@pytest.mark.unit
def test_the_shipped_word_lists_are_what_the_bundled_knowledge_gives() -> None:
    from api.vocabulary import MEDICAL, medical_words

    shipped = [w for w in MEDICAL.read_text(encoding="utf-8").splitlines() if w and not w.startswith("#")]
    assert shipped == medical_words(REPO / "knowledge" / "manifest.toml")


class Collect(logging.Handler):
    """Every record the server side logs (the test's own HTTP client, httpx and httpcore, is not the server)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in ("httpx", "httpcore"):
            return
        extra = {k: v for k, v in record.__dict__.items() if k not in logging.LogRecord("", 0, "", 0, "", (), None).__dict__}
        self.lines.append(record.getMessage() + " " + json.dumps(extra, default=str) + " " + (record.exc_text or ""))


@pytest.fixture()
def logs() -> Iterator[Collect]:
    handler = Collect()
    loggers = [logging.getLogger(n) for n in ("", "ragmed", "ragmed.api", "ragmed.api.access", "uvicorn", "uvicorn.error")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield handler
    for lg, level in zip(loggers, levels):
        lg.removeHandler(handler)
        lg.setLevel(level)


# Keyed hashes, generated request ids and timings are random hex and decimals: a short numeric identifier
# ("90210") turns up inside one by chance. Only those fields, in exactly their generated form, are masked, so
# an identifier logged verbatim in any of them is still found.
_GENERATED = re.compile(r'"(\w+_hmac|request_id|client)": "(?:h:|addr:)?(?:[0-9a-f]{16}|[0-9a-f]{32})"'
                        r'|(?<=": )-?\d+\.\d+(?=[,}])')


def _without_hashes_and_timings(text: str) -> str:
    return _GENERATED.sub("<generated>", text)


def _found(text: str, identifier: str) -> re.Match[str] | None:
    """Where the identifier stands in the text as itself: anywhere, except that a leading or trailing digit may not
    run on into more digits (a ZIP code "02139" inside a process id or a port another thread logged). The text is
    also read URL-decoded, so "MRN%2044512" is "MRN 44512"."""
    pattern = (r"(?<!\d)" if identifier[:1].isdigit() else "") + re.escape(identifier) + (
        r"(?!\d)" if identifier[-1:].isdigit() else "")
    return re.search(pattern, text) or re.search(pattern, _decoded(text))


@functools.lru_cache(maxsize=2)
def _decoded(text: str) -> str:
    return unquote_plus(text)


def _logged(text: str, identifier: str) -> bool:
    return _found(text, identifier) is not None or _found(text, quote(identifier)) is not None


def _around(text: str, identifier: str) -> str:
    """The logged text around where an identifier turned up, so a failure shows which field carried it."""
    found = _found(text, identifier) or _found(text, quote(identifier))
    return found.string[max(0, found.start() - 160):found.end() + 80] if found else ""


@pytest.mark.integration
def test_identifiers_sent_through_every_endpoint_never_reach_the_logs(small_index: Any, tmp_path: Path,
                                                                       logs: Collect) -> None:
    import shutil
    from contextlib import closing

    from ragmed.config import LoggingSettings
    from ragmed.engine import Engine

    # The test adds and deletes documents, so it writes to its own copy of the session's small index.
    shutil.copytree(small_index.index.root / "small", tmp_path / "small", ignore=shutil.ignore_patterns(".lock", "*.lock"))
    settings = small_index.model_copy(update={"logging": LoggingSettings(deidentified_copy=True),
                                              "index": small_index.index.model_copy(update={"root": tmp_path})})
    engine = Engine.open(settings, "small", build_if_missing=False)
    with closing(engine), serve(settings, engine, rate_limit_per_minute=100_000) as live, \
            httpx.Client(base_url=live.url, timeout=120, headers={"X-API-Key": WRITER}) as c:
        one_per_class = {r["class"]: r for r in ROWS}.values()
        for row in ROWS:
            text, ident = row["text"], row["identifier"]
            c.post("/v1/search", json={"query": text}, headers={"X-Request-ID": ident.encode()})  # UTF-8 bytes, as curl sends them
            c.get("/v1/concepts", params={"q": text})
            c.get("/v1/documents/" + quote(ident, safe=""))
            c.get("/healthz?patient=" + quote(ident))
        for row in one_per_class:
            text, ident = row["text"], row["identifier"]
            c.post("/v1/ask", json={"question": text})
            c.post("/v1/ask", json={"question": text, "stream": True})
            c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": text}]})
            c.post("/v1/documents", json=[{"id": ident, "text": text}])
            c.delete("/v1/documents/" + quote(ident, safe=""))
    logged = _without_hashes_and_timings("\n".join(logs.lines))
    assert logged.count('"route"') >= len(ROWS) * 4
    leaks = [(r["class"], r["identifier"], _around(logged, r["identifier"]))
             for r in ROWS if _logged(logged, r["identifier"])]
    assert leaks == []
    copies = [json.loads(line.split(" {", 1)[0]) for line in logs.lines if line.startswith("{")]
    deid = [(c.get("question_deid") or c.get("query_text_deid")) for c in copies]
    assert sum(1 for d in deid if d) >= len(ROWS)
