"""``ragmed eval``: run benchmarks, compare runs, evaluate retrieval, rebuild reports."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from ragmed.errors import ConfigError, RagmedError

app = typer.Typer(help="Benchmark ragmed on medical QA sets, reproducibly, with reports.", no_args_is_help=True,
                  add_completion=False)
console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def register(parent: typer.Typer) -> None:
    """Add ``ragmed eval`` to the ``ragmed`` command."""
    parent.add_typer(app, name="eval", help="Benchmark ragmed on medical QA sets.")


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(2 if isinstance(exc, ConfigError) else 1)


@app.command("run")
def run(
    dataset: str = typer.Option(..., "--dataset", "-d", help="pubmedqa, medquad, or a path (PubMedQA JSON, MIRAGE "
                                "benchmark.json, MedQA/MedMCQA/generic JSONL, MedQuAD XML, BioASQ JSON)."),
    mode: str = typer.Option("rag", "--mode", "-m", help="closed-book, rag or oracle (the item's gold context)."),
    generator: str = typer.Option("extractive", "--generator", "-g", help="extractive, llamacpp, transformers or openai."),
    limit: int | None = typer.Option(None, "--limit", "-n", help="Evaluate this many items, sampled by --seed."),
    seed: int = typer.Option(0, "--seed", "-s", help="Seed for sampling, baselines and bootstrap intervals."),
    out_dir: Path | None = typer.Option(None, "--out", "-o", help="Run folder (default runs/<dataset>-<system>-s<seed>)."),
    baseline: str | None = typer.Option(None, "--baseline", help="random or majority (classification sets, no model)."),
    retrieval: str | None = typer.Option(None, "--retrieval", help="Retrieval mode for rag: dense, bm25 or hybrid."),
    index: str | None = typer.Option(None, "--index", "-i", help="Index to retrieve from (default: the starter index)."),
    k: int | None = typer.Option(None, "--k", help="Passages given as evidence (default: settings.retrieval.top_k)."),
    fmt: str | None = typer.Option(None, "--format", help="Force a dataset format instead of sniffing it."),
    data_root: Path | None = typer.Option(None, "--data-root", help="Folder holding pubmedqa/ and medquad/ for the known names (default: the bundled knowledge)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start afresh when the run folder holds another run."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Evaluate one dataset; an interrupted run resumes when started again with the same options."""
    from eval.runner import RunConfig, run_eval

    config = RunConfig(dataset=dataset, mode=mode, generator=generator, limit=limit, seed=seed, baseline=baseline,
                       retrieval=retrieval, index=index, k=k, format=fmt)
    folder = out_dir or Path("runs") / default_name(config)
    try:
        result = run_eval(config, folder, data_root=data_root, overwrite=overwrite, show_progress=progress,
                          console=console)
    except RagmedError as exc:
        _fail(exc)
    skipped = result.manifest["dataset"]["skipped_records"]
    if skipped:
        console.print(f"[yellow]{skipped} bad record(s) skipped[/yellow]; first: {result.manifest['dataset']['errors'][0]}")
    out.print(headline(result.summary))
    out.print(f"reports: {folder / 'report.md'}  {folder / 'report.html'}")


@app.command("compare")
def compare(
    run_a: Path = typer.Argument(..., help="Run folder A (the reference)."),
    run_b: Path = typer.Argument(..., help="Run folder B."),
    n_boot: int = typer.Option(2000, "--n-boot", help="Bootstrap resamples."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show B - A for every metric both runs have, with a paired bootstrap interval and p-value."""
    from dataclasses import asdict

    from eval.compare import compare_runs, render

    try:
        result = compare_runs(run_a, run_b, n_boot=n_boot, seed=seed)
    except RagmedError as exc:
        _fail(exc)
    if as_json:
        out.print_json(json.dumps(asdict(result), default=str))
        return
    if not result.same_dataset:
        console.print("[yellow]the runs used different dataset files (checksums differ)[/yellow]")
    if result.only_a or result.only_b:
        console.print(f"[yellow]{result.only_a} item(s) only in A and {result.only_b} only in B are left out[/yellow]")
    out.print(render(result))


@app.command("retrieval")
def retrieval(
    datasets: list[str] = typer.Option(["pubmedqa", "medquad"], "--dataset", "-d", help="pubmedqa and/or medquad."),
    limit: int | None = typer.Option(None, "--limit", "-n", help="Questions per set (PubMedQA: all; MedQuAD: 500)."),
    corpus_size: int | None = typer.Option(None, "--corpus-size", help="Documents indexed (PubMedQA: 500; MedQuAD: 5000)."),
    seed: int = typer.Option(0, "--seed", "-s", help="Sampling seed."),
    depth: int = typer.Option(50, "--depth", help="Passages retrieved per query before de-duplicating documents (a document can fill several)."),
    out_dir: Path = typer.Option(Path("runs") / "retrieval", "--out", "-o", help="Folder for results.json and results.md."),
    data_root: Path | None = typer.Option(None, "--data-root", help="Folder holding pubmedqa/ and medquad/ (default: the bundled knowledge)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Recall@1/5/10, MRR@10, nDCG@10 and search latency of dense, BM25 and hybrid retrieval."""
    from eval.retrieval import evaluate_retrieval
    from eval.retrieval_report import table, write_results
    from ragmed.config import load_settings

    settings = load_settings()
    reports = []
    try:
        for name in datasets:
            with progress_bar(progress) as update:
                reports.append(evaluate_retrieval(name, settings, limit=limit, corpus_size=corpus_size, seed=seed,
                                                  depth=depth, data_root=data_root, progress=update))
            console.print(table(reports[-1:]))
    except RagmedError as exc:
        _fail(exc)
    out.print(table(reports))
    json_path, md_path = write_results(out_dir, reports)
    out.print(f"results: {json_path}  {md_path}")


@app.command("safety")
def safety(
    split: str = typer.Option("test", "--split", help="dev, test or all (tune on dev, report test)."),
    questions: Path = typer.Option(Path("eval/sets/safety/questions.jsonl"), "--set", help="The labelled safety set."),
    index: str | None = typer.Option(None, "--index", "-i", help="Index whose concept store links concepts "
                                        "(default: settings' index, else one built from the knowledge manifest)."),
    backend: str | None = typer.Option(None, "--backend", help="semantic or rules (default: settings.safety.triage)."),
    injection: bool = typer.Option(True, "--injection/--no-injection", help="Add the injection figures "
                                   "(eval/sets/injection/passages.jsonl) when the set is there."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Triage recall per emergency category, false alarms, declines, clinician over-refusal and time per question."""
    from eval.safety import evaluate_safety, load_items, production_triage, render
    from ragmed.config import load_settings

    try:
        items = load_items(questions, split)
        triage, link, embed = production_triage(load_settings(), index, backend=backend)
        report = evaluate_safety(triage, items, link, embed, split=split)
        passages = Path("eval/sets/injection/passages.jsonl")
        detection = _injection_report(passages, split) if injection and passages.exists() else None
    except RagmedError as exc:
        _fail(exc)
    if as_json:
        out.print_json(json.dumps({"safety": report.to_dict(),
                                   "injection": detection.to_dict() if detection else None}))
        return
    from eval.injection import render as render_injection

    out.print(render(report))
    if detection is not None:
        out.print("\n" + render_injection(detection))


def _injection_report(path: Path, split: str) -> Any:
    from eval.injection import evaluate_injection, load_passages
    from ragmed.safety import default_detector

    return evaluate_injection(default_detector(), load_passages(path, split), split)


@app.command("injection")
def injection(
    split: str = typer.Option("test", "--split", help="dev, test or all."),
    passages: Path = typer.Option(Path("eval/sets/injection/passages.jsonl"), "--set", help="The labelled passages."),
    poisoned: bool = typer.Option(False, "--poisoned", help="Also index the poisoned documents "
                                  "(eval/sets/injection/poisoned_docs.jsonl) and ask each one's question."),
    generator: str = typer.Option("extractive", "--generator", "-g", help="Generator for --poisoned answers."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Detection recall on injected passages and false flags on clean ones, per language and technique."""
    from eval.injection import evaluate_poisoned, render
    from ragmed.config import load_settings

    try:
        report = _injection_report(passages, split)
        attack = evaluate_poisoned(load_settings(), split=split, generator=generator) if poisoned else None
    except RagmedError as exc:
        _fail(exc)
    if as_json:
        out.print_json(json.dumps({**report.to_dict(), "poisoned": attack.to_dict() if attack else None}))
        return
    out.print(render(report))
    if attack is not None:
        out.print(f"\npoisoned documents ({attack.split}, {attack.generator}): {attack.n} indexed, "
                  f"{attack.flagged_at_ingest} flagged at ingest; answers showing the planted instruction: "
                  f"{len(attack.answers_showing_instruction)}/{attack.n} {attack.answers_showing_instruction or ''}; "
                  f"answers citing their poisoned document: {attack.answers_citing_document}/{attack.n}")


@app.command("citations")
def citations(
    gold: Path | None = typer.Option(None, "--gold", help="Gold JSONL of question/claim/evidence/evidence_title/label "
                                        "(default: eval/sets/citations/gold.jsonl)."),
    split: str | None = typer.Option(None, "--split", help="dev, test or all (items without a split count in all; "
                                     "default: test of the shipped gold set, all of a file given with --gold)."),
    backends: list[str] = typer.Option(["trained", "lexical"], "--backend", "-b", help="Verifier backends to compare."),
    model: Path | None = typer.Option(None, "--model", help="A local CrossEncoder folder for the cross-encoder backend."),
    index: str | None = typer.Option(None, "--index", "-i", help="Index whose concept store does the topic check "
                                        "(default: the starter index)."),
    synthetic: bool = typer.Option(True, "--synthetic/--no-synthetic", help="Also score the synthetic test split "
                                   "(pairs built from the knowledge, as `ragmed train verifier` builds them)."),
    abstention: bool = typer.Option(True, "--abstention/--no-abstention", help="Also ask the abstention questions "
                                    "and report the share of answers that abstain."),
    generator: str = typer.Option("extractive", "--generator", "-g", help="Generator for the abstention questions."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Precision, recall and F1 of each verifier backend on the gold set and the synthetic test split."""
    from eval.citations import GOLD, CitationReport, format_table, read_gold, score
    from ragmed.config import load_settings
    from ragmed.engine import Engine
    from ragmed.types import RecordError
    from ragmed.verify import make_verifier
    from ragmed.verify.topic import TopicJudge

    settings = load_settings()
    report = CitationReport()
    errors: list[RecordError] = []
    split = split or ("test" if gold is None else "all")
    try:
        claims = read_gold(gold or GOLD, errors)
        engine = Engine.open(settings, index)
        topic = TopicJudge(engine.ontology) if engine.ontology else None
        chosen = [c for c in claims if split == "all" or c.split == split]
        verifiers = {}
        for name in backends:
            backend_settings = settings.verifier.model_copy(update={"backend": name, **({"model_path": model} if model and name == "cross-encoder" else {})})
            verifiers[name] = (make_verifier(backend_settings, engine.embedder), backend_settings.support_threshold)
        report.sets[f"gold/{split}"] = [score(name, v, chosen, t, topic, engine.get_document)
                                        for name, (v, t) in verifiers.items()]
        if synthetic:
            from eval.citations import GoldClaim
            from ragmed.verify.data import PairBuilder, knowledge_documents, ontology_helpers

            link, siblings = ontology_helpers(engine.store.folder / "concepts.sqlite")
            pairs = [p for p in PairBuilder(link, siblings, seed=0).build(knowledge_documents(settings.knowledge), per_document=2)
                     if p.split == "test"]
            synthetic_claims = [GoldClaim(p.question, p.claim, p.evidence, p.title,
                                          "supported" if p.label else ("wrong_topic" if p.kind == "wrong_topic" else "unsupported"),
                                          "test", p.doc_id) for p in pairs]
            report.sets["synthetic/test"] = [score(name, v, synthetic_claims, t, topic, engine.get_document)
                                             for name, (v, t) in verifiers.items()]
        if abstention:
            from eval.abstention import abstention_rates

            report.abstention = abstention_rates(engine, split, generator)
    except RagmedError as exc:
        _fail(exc)
    report.errors = [str(e) for e in errors]
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
        return
    for error in report.errors:
        console.print(f"[yellow]skipped[/yellow] {error}")
    out.print(format_table(report))
    if report.abstention:
        a = report.abstention
        out.print(f"\nabstention ({split}, {generator}): {a['unanswerable_abstained']}/{a['unanswerable']} unanswerable questions "
                  f"abstained ({a['abstain_rate']:.2f}); {a['answerable_answered']}/{a['answerable']} answerable questions "
                  f"answered ({a['answer_rate']:.2f})")
    if errors:
        out.print(f"{len(claims)} claims read, {len(errors)} skipped")


@app.command("report")
def report(run_dir: Path = typer.Argument(..., help="Run folder.")) -> None:
    """Rebuild summary.json, report.md and report.html of a run from its trace."""
    from eval.manifest import read_manifest
    from eval.runner import finish_run

    try:
        manifest = read_manifest(run_dir)
        if manifest is None:
            raise ConfigError(f"{run_dir} is not a run folder (no manifest.json)")
        result = finish_run(run_dir, manifest)
    except RagmedError as exc:
        _fail(exc)
    out.print(headline(result.summary))


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Any]:
    """A rich progress bar fed by ``progress(stage, advance, total)`` callbacks, one task per stage."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, advance: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task({"read": "reading documents", "embed": "embedding passages"}.get(stage, stage),
                                            total=None)
            if total is not None:
                bar.update(tasks[stage], total=(bar.tasks[tasks[stage]].total or 0) + total)
            if advance:
                bar.advance(tasks[stage], advance)

        yield update


def default_name(config: Any) -> str:
    """``<dataset>-<system>-s<seed>[-n<limit>]`` for a run config."""
    stem = Path(config.dataset).stem if "/" in config.dataset or "." in config.dataset else config.dataset
    system = config.baseline or f"{config.mode}-{config.generator}" + (f"-{config.retrieval}" if config.retrieval else "")
    return f"{stem}-{system}-s{config.seed}" + (f"-n{config.limit}" if config.limit else "")


def headline(summary: dict[str, Any]) -> str:
    """One line per dataset: accuracy with its interval, recall@10, ROUGE-L and abstention."""
    lines = []
    for name, g in summary.get("datasets", {}).items():
        parts = [f"{name}: n={g['n']}"]
        if g.get("accuracy"):
            a = g["accuracy"]
            parts.append(f"accuracy {a['value'] * 100:.1f}% (95% CI {a['low'] * 100:.1f}-{a['high'] * 100:.1f})")
        if g.get("recall_at"):
            parts.append(f"recall@10 {g['recall_at'][-1] * 100:.1f}%")
        if g.get("rouge_l") is not None:
            parts.append(f"ROUGE-L {g['rouge_l']:.3f}")
        parts.append(f"abstained {g.get('abstention_rate', 0) * 100:.1f}%")
        lines.append(", ".join(parts))
    return "\n".join(lines)
