"""The evaluation harness end to end on real data (the bundled knowledge): adapters, runs, resume, reports, compare,
retrieval, and where the known dataset names resolve."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from eval.datasets import load_dataset
from eval.runner import RunConfig, run_eval
from ragmed.errors import ConfigError, IngestError

REPO = Path(__file__).resolve().parents[1]
LITERATURE = REPO / "knowledge" / "literature"
PUBMEDQA = LITERATURE / "pubmedqa" / "pqal_public_500.json"


@pytest.fixture(scope="module")
def pubmedqa() -> dict:
    return json.loads(PUBMEDQA.read_text(encoding="utf-8"))


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def _mirage(tmp_path: Path, pubmedqa: dict, n: int = 30) -> Path:
    """A MIRAGE benchmark.json made from PubMedQA: a pubmedqa set and a BioASQ-style yes/no set."""
    letter = {"yes": "A", "no": "B", "maybe": "C"}
    pmids = list(pubmedqa)[:n]
    data = {
        "pubmedqa": {p: {"question": pubmedqa[p]["QUESTION"], "options": {"A": "yes", "B": "no", "C": "maybe"},
                         "answer": letter[pubmedqa[p]["final_decision"]]} for p in pmids},
        "bioasq": {f"q{p}": {"question": pubmedqa[p]["QUESTION"], "options": {"A": "yes", "B": "no"},
                             "answer": letter[pubmedqa[p]["final_decision"]], "PMID": [p]}
                   for p in pmids if pubmedqa[p]["final_decision"] != "maybe"},
    }
    data["bioasq"]["broken"] = {"question": "Is this answerable?", "options": {"A": "yes", "B": "no"}, "answer": "Z"}
    path = tmp_path / "benchmark.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# -- adapters -----------------------------------------------------------------------

@pytest.mark.unit
def test_pubmedqa_public_500_loads_with_its_label_counts() -> None:
    ds = load_dataset("pubmedqa")
    assert (ds.format, len(ds.items), ds.errors) == ("pubmedqa", 500, [])
    counts = {letter: sum(i.answer == letter for i in ds.items) for letter in "ABC"}
    assert counts == {"A": 276, "B": 169, "C": 55}  # yes / no / maybe, as SOURCE.txt says
    item = ds.items[0]
    assert item.options == {"A": "yes", "B": "no", "C": "maybe"}
    assert item.gold_doc_ids == [f"pmid:{item.id}"] and item.context and item.long_answer


@pytest.mark.unit
def test_mirage_file_loads_every_set_and_names_the_bad_record(tmp_path: Path, pubmedqa: dict) -> None:
    ds = load_dataset(_mirage(tmp_path, pubmedqa))
    assert ds.format == "mirage"
    sets = {i.dataset for i in ds.items}
    assert sets == {"pubmedqa", "bioasq"}
    first = next(i for i in ds.items if i.dataset == "pubmedqa")
    assert first.id == f"pubmedqa:{first.id.split(':')[1]}" and first.gold_doc_ids == [f"pmid:{first.id.split(':')[1]}"]
    assert all(i.gold_doc_ids and len(i.options or {}) == 2 for i in ds.items if i.dataset == "bioasq")
    assert len(ds.errors) == 1
    assert "benchmark.json" in ds.errors[0].location and "bioasq/broken" in ds.errors[0].location
    assert "'Z'" in ds.errors[0].message


@pytest.mark.unit
def test_medqa_medmcqa_and_generic_jsonl_in_their_native_fields(tmp_path: Path, pubmedqa: dict) -> None:
    records = list(pubmedqa.values())[:6]
    medqa = _write_jsonl(tmp_path / "medqa.jsonl", [
        {"question": r["QUESTION"], "options": {"A": "yes", "B": "no", "C": "maybe", "D": "unknown"},
         "answer_idx": "ABC"[["yes", "no", "maybe"].index(r["final_decision"])], "answer": r["final_decision"],
         "meta_info": "step1"} for r in records] + ["{not json"])
    medmcqa = _write_jsonl(tmp_path / "medmcqa.jsonl", [
        {"id": f"m{n}", "question": r["QUESTION"], "opa": "yes", "opb": "no", "opc": "maybe", "opd": "unknown",
         "cop": 1 + ["yes", "no", "maybe"].index(r["final_decision"]), "exp": r["LONG_ANSWER"],
         "subject_name": "Medicine"} for n, r in enumerate(records)] + [
        {"id": "bad", "question": "Q?", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 7}])
    generic = _write_jsonl(tmp_path / "mine.jsonl", [
        {"question": records[0]["QUESTION"], "options": ["yes", "no"], "answer": records[0]["final_decision"]},
        {"question": "What is the conclusion?", "answer": records[1]["LONG_ANSWER"], "gold_doc_ids": ["pmid:1"]},
        {"question": "Only a question?"},
        {"options": ["x"]},
    ])
    a, b, c = load_dataset(medqa), load_dataset(medmcqa), load_dataset(generic)
    assert (a.format, b.format, c.format) == ("medqa", "medmcqa", "jsonl")
    assert [i.answer for i in a.items] == [i.answer for i in b.items]
    assert len(a.items) == len(b.items) == 6
    assert a.errors[0].location == f"{medqa}:7" and "not valid JSON" in a.errors[0].message
    assert b.errors[0].location == f"{medmcqa}:7" and "cop" in b.errors[0].message
    assert b.items[0].long_answer == records[0]["LONG_ANSWER"]
    assert c.items[0].options == {"A": "yes", "B": "no"} and c.items[0].answer in ("A", "B")
    assert c.items[1].options is None and c.items[1].long_answer == records[1]["LONG_ANSWER"]
    assert c.items[1].gold_doc_ids == ["pmid:1"] and c.items[2].question == "Only a question?"
    assert len(c.errors) == 1 and c.errors[0].location == f"{generic}:4" and "question" in c.errors[0].message


@pytest.mark.unit
def test_medquad_items_carry_the_ids_of_ragmeds_medquad_documents() -> None:
    from ragmed.sources import read_path

    folder = LITERATURE / "medquad" / "9_CDC_QA"
    ds = load_dataset(folder)
    assert ds.format == "medquad" and all(i.options is None and i.long_answer for i in ds.items)
    documents = {d.id for d in read_path(folder, None, lambda e: None)}
    assert {g for i in ds.items for g in i.gold_doc_ids} == documents


@pytest.mark.unit
def test_bioasq_json_gives_yes_no_and_open_items(tmp_path: Path, pubmedqa: dict) -> None:
    pmids = [p for p in pubmedqa if pubmedqa[p]["final_decision"] != "maybe"][:3]
    questions = [{"id": f"b{p}", "body": pubmedqa[p]["QUESTION"], "type": "yesno",
                  "documents": [f"http://www.ncbi.nlm.nih.gov/pubmed/{p}"],
                  "snippets": [{"text": pubmedqa[p]["CONTEXTS"][0], "document": p}],
                  "exact_answer": pubmedqa[p]["final_decision"], "ideal_answer": [pubmedqa[p]["LONG_ANSWER"]]}
                 for p in pmids]
    questions.append({"id": "s1", "body": "Summarise it.", "type": "summary", "documents": ["12345"],
                      "ideal_answer": ["A summary."]})
    questions.append({"id": "bad", "body": "Broken?", "type": "yesno", "documents": ["not a pmid"], "exact_answer": "yes"})
    path = tmp_path / "bioasq.json"
    path.write_text(json.dumps({"questions": questions}), encoding="utf-8")
    ds = load_dataset(path)
    assert ds.format == "bioasq" and len(ds.items) == 4
    first = ds.items[0]
    assert first.gold_doc_ids == [f"pmid:{pmids[0]}"] and first.context == [pubmedqa[pmids[0]]["CONTEXTS"][0]]
    assert first.answer == ("A" if pubmedqa[pmids[0]]["final_decision"] == "yes" else "B")
    assert ds.items[3].options is None and ds.items[3].long_answer == "A summary."
    assert "question bad" in ds.errors[0].location and "not a PubMed URL" in ds.errors[0].message


@pytest.mark.unit
def test_unknown_datasets_are_refused_with_the_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nosuchset"):
        load_dataset("nosuchset")
    odd = tmp_path / "odd.json"
    odd.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(IngestError, match="odd.json"):
        load_dataset(odd)


@pytest.mark.unit
def test_known_names_resolve_to_the_bundled_knowledge_from_any_folder(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from eval.datasets import resolve

    monkeypatch.chdir(tmp_path)  # not the checkout: names must not depend on where the command runs
    assert resolve("pubmedqa") == (PUBMEDQA, "pubmedqa")
    assert resolve("MedQuAD") == (LITERATURE / "medquad", "medquad")
    medquad = load_dataset("medquad")
    assert {i.gold_doc_ids[0].split("/")[0] for i in medquad.items} == {"medquad:MPlusHealthTopics", "medquad:CDC"}


@pytest.mark.unit
def test_data_root_points_known_names_elsewhere(tmp_path: Path, pubmedqa: dict) -> None:
    from typer.testing import CliRunner

    from eval.cli import app

    root = tmp_path / "data"
    (root / "pubmedqa").mkdir(parents=True)
    four = {p: pubmedqa[p] for p in list(pubmedqa)[:4]}
    (root / "pubmedqa" / "pqal_public_500.json").write_text(json.dumps(four), encoding="utf-8")
    assert [i.id for i in load_dataset("pubmedqa", data_root=root).items] == list(four)
    runner = CliRunner()
    done = runner.invoke(app, ["run", "--dataset", "pubmedqa", "--data-root", str(root), "--baseline", "majority",
                               "--out", str(tmp_path / "run"), "--no-progress"])
    assert done.exit_code == 0, done.output
    assert "pubmedqa: n=4," in done.output
    missing = runner.invoke(app, ["run", "--dataset", "medquad", "--data-root", str(root), "--baseline", "majority",
                                  "--out", str(tmp_path / "other"), "--no-progress"])
    assert missing.exit_code == 2
    assert str(root / "medquad") in "".join(missing.output.split()) and "--data-root" in missing.output  # rich wraps


def _first_line_then_broken(src: Path, dest: Path) -> Path:
    """``dest``: the first record of ``src``, a blank line, then a line cut short (line 3)."""
    first = src.read_text(encoding="utf-8").splitlines()[0]
    dest.write_text(f"{first}\n\n{first[:40]}\n", encoding="utf-8")
    return dest


@pytest.mark.unit
def test_every_jsonl_set_names_the_file_and_line_of_a_broken_record(tmp_path: Path) -> None:
    import gzip
    import shutil

    from eval.abstention import load_questions
    from eval.citations import read_gold
    from eval.injection import load_passages
    from eval.safety import load_items
    from ragmed.safety.bank import SafetyBank
    from ragmed.train_cli import read_pairs

    sets = REPO / "eval" / "sets"
    readers = {
        "safety": lambda p: load_items(p, "all"),
        "injection": lambda p: load_passages(p, "all"),
        "abstention": lambda p: load_questions("all", p),
    }
    sources = {"safety": sets / "safety" / "questions.jsonl", "injection": sets / "injection" / "passages.jsonl",
               "abstention": sets / "abstention" / "questions.jsonl"}
    for name, read in readers.items():
        good = tmp_path / f"{name}-good.jsonl"
        good.write_text(sources[name].read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
        assert len(read(good)) == 1
        broken = _first_line_then_broken(sources[name], tmp_path / f"{name}.jsonl")
        with pytest.raises(IngestError, match=re.escape(f"{broken}:3: not valid JSON")):
            read(broken)
        with pytest.raises(IngestError, match=re.escape(f"{tmp_path / 'missing.jsonl'}: cannot read")):
            read(tmp_path / "missing.jsonl")
    # The citation gold set reports a bad line and reads the rest.
    errors: list = []
    gold = _first_line_then_broken(sets / "citations" / "gold.jsonl", tmp_path / "gold.jsonl")
    assert len(read_gold(gold, errors)) == 1
    assert [(e.location, e.message.split(":")[0]) for e in errors] == [(f"{gold}:3", "not valid JSON")]
    # The safety bank's examples, and verifier pairs (gzip-compressed) written by `ragmed train verifier`.
    bank = tmp_path / "bank"
    shutil.copytree(REPO / "knowledge" / "safety", bank)
    with (bank / "routine.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('["a list, not an object"]\n')
    lines = len((bank / "routine.jsonl").read_text(encoding="utf-8").splitlines())
    with pytest.raises(IngestError, match=re.escape(f"{bank / 'routine.jsonl'}:{lines}: expected a JSON object, got list")):
        SafetyBank.load(bank).examples("routine")
    pairs = tmp_path / "pairs.jsonl.gz"
    with gzip.open(pairs, "wt", encoding="utf-8") as handle:
        handle.write('{"claim": "x"}\n')
    with pytest.raises(IngestError, match=re.escape(f"{pairs}:1: not a verifier pair")):
        read_pairs(pairs)


# -- runs without a model -----------------------------------------------------------

@pytest.mark.integration
def test_majority_baseline_on_pubmedqa_with_report_and_plots(tmp_path: Path, pubmedqa: dict) -> None:
    result = run_eval(RunConfig(dataset="pubmedqa", baseline="majority", limit=20, seed=1), tmp_path / "run",
                      show_progress=False)
    ids = [r["id"] for r in result.records]
    assert len(ids) == len(set(ids)) == 20
    expected = sum(pubmedqa[i]["final_decision"] == "yes" for i in ids) / 20  # "yes" is the majority class
    acc = result.summary["datasets"]["pubmedqa"]["accuracy"]
    assert acc["value"] == expected and acc["low"] <= expected <= acc["high"]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["dataset"]["sha256"] == load_dataset("pubmedqa").checksum
    assert manifest["run"]["seed"] == 1 and manifest["environment"]["ragmed_version"]
    md = (tmp_path / "run" / "report.md").read_text()
    assert "| pubmedqa | " in md and "plots/accuracy.png" in md and "majority class (yes) 55.2" in md
    png = (tmp_path / "run" / "plots" / "accuracy.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    page = (tmp_path / "run" / "report.html").read_text()
    encoded = page.split('src="data:image/png;base64,')[1].split('"')[0]
    assert base64.b64decode(encoded).startswith(b"\x89PNG") and "<script" not in page


class _Interrupt:
    """Wraps a real predictor and stops the run after ``after`` items, like Ctrl-C would."""

    def __init__(self, inner, after: int) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.after, self.name, self.calls = inner, after, inner.name, 0

    def predict(self, item):  # type: ignore[no-untyped-def]
        if self.calls == self.after:
            raise KeyboardInterrupt
        self.calls += 1
        return self.inner.predict(item)


@pytest.mark.integration
def test_an_interrupted_run_resumes_without_duplicates_and_same_results(tmp_path: Path) -> None:
    from eval.predict import RandomBaseline

    config = RunConfig(dataset="pubmedqa", baseline="random", limit=20, seed=5)
    whole = run_eval(config, tmp_path / "whole", show_progress=False)
    with pytest.raises(KeyboardInterrupt):
        run_eval(config, tmp_path / "cut", show_progress=False, predictor=_Interrupt(RandomBaseline(5), 7))
    trace = tmp_path / "cut" / "trace.jsonl"
    assert len(trace.read_text().splitlines()) == 7
    with trace.open("a") as handle:  # a record cut short mid-write
        handle.write('{"id": "half')
    resumed = run_eval(config, tmp_path / "cut", show_progress=False)
    ids = [json.loads(line)["id"] for line in trace.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 20
    assert [(r["id"], r["prediction"]["choice"]) for r in resumed.records] == \
           [(r["id"], r["prediction"]["choice"]) for r in whole.records]
    assert resumed.summary["overall"]["accuracy"] == whole.summary["overall"]["accuracy"]
    assert resumed.manifest.get("resumed")


@pytest.mark.integration
def test_runs_are_deterministic_for_a_seed(tmp_path: Path) -> None:
    def picks(seed: int, name: str) -> list:
        result = run_eval(RunConfig(dataset="pubmedqa", baseline="random", limit=15, seed=seed), tmp_path / name,
                          show_progress=False)
        return [(r["id"], r["prediction"]["choice"]) for r in result.records]

    assert picks(3, "a") == picks(3, "b")
    assert [i for i, _ in picks(4, "c")] != [i for i, _ in picks(3, "d")]


@pytest.mark.integration
def test_a_run_folder_holding_another_run_is_refused(tmp_path: Path) -> None:
    run_eval(RunConfig(dataset="pubmedqa", baseline="random", limit=5), tmp_path / "run", show_progress=False)
    with pytest.raises(ConfigError, match="baseline"):
        run_eval(RunConfig(dataset="pubmedqa", baseline="majority", limit=5), tmp_path / "run", show_progress=False)
    again = run_eval(RunConfig(dataset="pubmedqa", baseline="majority", limit=5), tmp_path / "run",
                     show_progress=False, overwrite=True)
    assert again.manifest["run"]["baseline"] == "majority" and len(again.records) == 5
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "trace.jsonl").write_text('{"id": "1"}\n')
    with pytest.raises(ConfigError, match="without a manifest"):
        run_eval(RunConfig(dataset="pubmedqa", baseline="random", limit=5), stray, show_progress=False)


@pytest.mark.integration
def test_baselines_refuse_open_ended_sets_and_oracle_needs_context(tmp_path: Path, pubmedqa: dict) -> None:
    with pytest.raises(ConfigError, match="classification"):
        run_eval(RunConfig(dataset="medquad", baseline="random", limit=3), tmp_path / "a", show_progress=False)
    with pytest.raises(ConfigError, match="oracle mode needs gold context"):
        run_eval(RunConfig(dataset=str(_mirage(tmp_path, pubmedqa)), mode="oracle", limit=3), tmp_path / "b",
                 show_progress=False)


@pytest.mark.integration
def test_mirage_file_runs_per_set_with_the_bad_record_reported(tmp_path: Path, pubmedqa: dict) -> None:
    path = _mirage(tmp_path, pubmedqa)
    result = run_eval(RunConfig(dataset=str(path), baseline="majority"), tmp_path / "run", show_progress=False)
    assert set(result.summary["datasets"]) == {"pubmedqa", "bioasq"}
    assert result.manifest["dataset"]["skipped_records"] == 1
    assert "bioasq/broken" in result.manifest["dataset"]["errors"][0]
    assert "| all |" in (tmp_path / "run" / "report.md").read_text()


@pytest.mark.integration
def test_cli_runs_and_compares_two_runs(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from eval.cli import app

    runner = CliRunner()
    for baseline in ("majority", "random"):
        done = runner.invoke(app, ["run", "--dataset", "pubmedqa", "--baseline", baseline, "--limit", "30",
                                   "--out", str(tmp_path / baseline), "--no-progress"])
        assert done.exit_code == 0, done.output
        assert "pubmedqa: n=30, accuracy" in done.output
    shown = runner.invoke(app, ["compare", str(tmp_path / "majority"), str(tmp_path / "random"), "--json"])
    assert shown.exit_code == 0, shown.output
    deltas = {d["metric"]: d for d in json.loads(shown.output)["deltas"]}
    acc = deltas["accuracy"]
    assert acc["b"] - acc["a"] == pytest.approx(acc["paired"]["delta"])
    assert 0.0 <= acc["paired"]["p_value"] <= 1.0 and acc["paired"]["low"] <= acc["paired"]["delta"] <= acc["paired"]["high"]
    table = runner.invoke(app, ["compare", str(tmp_path / "majority"), str(tmp_path / "random")])
    assert "accuracy" in table.output and "95% CI" in table.output
    (tmp_path / "random" / "report.html").unlink()
    rebuilt = runner.invoke(app, ["report", str(tmp_path / "random")])
    assert rebuilt.exit_code == 0 and (tmp_path / "random" / "report.html").exists()
    bad = runner.invoke(app, ["run", "--dataset", "pubmedqa", "--mode", "sideways", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "sideways" in bad.output


# -- runs through the engine (the small real index of tests/conftest.py) -------------

def _pubmedqa_subset(tmp_path: Path, pubmedqa: dict, n: int = 80) -> Path:
    """The first ``n`` PubMedQA records: the abstracts the small test index holds."""
    path = tmp_path / "pubmedqa80.json"
    path.write_text(json.dumps({p: pubmedqa[p] for p in list(pubmedqa)[:n]}), encoding="utf-8")
    return path


@pytest.mark.integration
@pytest.mark.slow
def test_pubmedqa_rag_run_traces_retrieval_and_finds_own_abstracts(tmp_path: Path, pubmedqa: dict,
                                                                   small_engine) -> None:  # type: ignore[no-untyped-def]
    result = run_eval(RunConfig(dataset=str(_pubmedqa_subset(tmp_path, pubmedqa)), mode="rag", limit=8, seed=2),
                      tmp_path / "rag", engine=small_engine, show_progress=False)
    group = result.summary["datasets"]["pubmedqa"]
    assert group["n"] == 8 and 0.0 <= group["accuracy"]["low"] <= group["accuracy"]["value"] <= group["accuracy"]["high"]
    assert len(group["recall_at"]) == 10 and group["recall_at"][9] >= 0.5  # questions find their own abstract
    record = result.records[0]
    assert record["prediction"]["choice"] in ("A", "B", "C") and len(record["prediction"]["prompt_hash"]) == 64
    assert record["prediction"]["retrieved"][0]["doc_id"].startswith(("pmid:", "medquad:"))
    assert set(result.summary["latency_ms"]) >= {"retrieval", "choose", "total"}
    manifest = result.manifest
    assert manifest["index"]["manifest_sha256"] and manifest["models"]["embedding"]["sha256"]
    assert "openai_api_key" not in json.dumps(manifest["settings"])
    assert (tmp_path / "rag" / "plots" / "recall_at_k.png").exists()
    assert "Retrieval (gold documents)" in (tmp_path / "rag" / "report.md").read_text()


@pytest.mark.integration
@pytest.mark.slow
def test_pubmedqa_oracle_and_closed_book_runs(tmp_path: Path, small_engine) -> None:  # type: ignore[no-untyped-def]
    oracle = run_eval(RunConfig(dataset="pubmedqa", mode="oracle", limit=5), tmp_path / "oracle",
                      engine=small_engine, show_progress=False)
    closed = run_eval(RunConfig(dataset="pubmedqa", mode="closed-book", limit=5), tmp_path / "closed",
                      engine=small_engine, show_progress=False)
    for result in (oracle, closed):
        assert len(result.records) == 5 and not any(r["error"] for r in result.records)
        assert all(r["prediction"]["retrieved"] == [] for r in result.records)
    assert [r["id"] for r in oracle.records] == [r["id"] for r in closed.records]


@pytest.mark.integration
@pytest.mark.slow
def test_medquad_open_ended_run_scores_rouge_and_citations(tmp_path: Path, small_engine) -> None:  # type: ignore[no-untyped-def]
    result = run_eval(RunConfig(dataset=str(LITERATURE / "medquad" / "9_CDC_QA"), mode="rag", limit=6),
                      tmp_path / "medquad", engine=small_engine, show_progress=False)
    group = result.summary["datasets"]["medquad"]
    assert group["n"] == 6 and "accuracy" not in group
    assert 0.0 < group["rouge_l"] <= 1.0
    assert group["recall_at"][9] > 0.0  # the CDC answers are in the small index
    answered = [r for r in result.records if not r["prediction"]["abstained"]]
    assert answered and all(r["prediction"]["citations"] for r in answered)
    assert "citation_precision" in group and "citation_recall" in group
    assert "ROUGE-L" in (tmp_path / "medquad" / "report.md").read_text()


@pytest.mark.integration
@pytest.mark.slow
def test_mirage_file_through_the_engine(tmp_path: Path, pubmedqa: dict, small_engine) -> None:  # type: ignore[no-untyped-def]
    result = run_eval(RunConfig(dataset=str(_mirage(tmp_path, pubmedqa, n=12)), mode="rag", limit=6, seed=1),
                      tmp_path / "mirage", engine=small_engine, show_progress=False)
    assert sum(g["n"] for g in result.summary["datasets"].values()) == 6
    assert all(r["prediction"]["choice"] in ("A", "B", "C") for r in result.records)
    bioasq = [r for r in result.records if r["dataset"] == "bioasq"]
    assert all(r["prediction"]["choice"] in ("A", "B") for r in bioasq)


@pytest.mark.integration
@pytest.mark.slow
def test_bm25_only_retrieval_baseline_opens_its_own_engine(tmp_path: Path, pubmedqa: dict,
                                                           small_index) -> None:  # type: ignore[no-untyped-def]
    result = run_eval(RunConfig(dataset=str(_pubmedqa_subset(tmp_path, pubmedqa)), retrieval="bm25", index="small",
                                limit=4), tmp_path / "bm25", settings=small_index, show_progress=False)
    assert result.manifest["settings"]["retrieval"]["mode"] == "bm25"
    assert all(r["prediction"]["retrieved"] for r in result.records)
    assert all(p["doc_id"] for r in result.records for p in r["prediction"]["retrieved"])


@pytest.mark.integration
@pytest.mark.slow
def test_retrieval_evaluation_prints_all_modes(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    from conftest import make_settings

    from eval.retrieval import evaluate_retrieval
    from eval.retrieval_report import table, write_results

    settings = make_settings(tmp_path / "indexes")
    report = evaluate_retrieval("pubmedqa", settings, corpus_size=20, limit=10, embedder=embedder)
    assert [r.mode for r in report.rows] == ["dense", "bm25", "hybrid"]
    assert report.index == "eval-pubmedqa-20-s0" and report.documents == 20 and report.queries == 10
    assert (settings.index.root / report.index / "manifest.json").exists()
    for row in report.rows:
        assert row.n == 10 and 0 <= row.recall[1] <= row.recall[5] <= row.recall[10] <= 1
        assert row.mrr_at_10 >= 0.5  # 10 questions among 20 abstracts
    again = evaluate_retrieval("pubmedqa", settings, corpus_size=20, limit=10, embedder=embedder)
    assert again.build["unchanged"] == 20 and again.build["chunks_embedded"] == 0  # the index is reused
    json_path, md_path = write_results(tmp_path / "out", [report])
    markdown, saved = md_path.read_text(), json.loads(json_path.read_text())[0]["rows"]
    for row, kept in zip(report.rows, saved, strict=True):  # the latency measured is the latency reported
        assert row.p50_ms > 0 and row.p95_ms > 0 and (kept["p50_ms"], kept["p95_ms"]) == (row.p50_ms, row.p95_ms)
        assert f"| {row.mrr_at_10:.3f} | {row.ndcg_at_10:.3f} | {row.p50_ms:.1f} | {row.p95_ms:.1f} | 10 | 20 |" in markdown
    dense, hybrid = report.rows[0], report.rows[2]
    assert f"hybrid/dense latency p50 {hybrid.p50_ms / dense.p50_ms:.2f}x" in markdown
    assert table([report]).row_count == 3
