"""The ``ragmed`` command line: build, add, delete, search, ask, info, repair, concepts, serve, eval."""

from __future__ import annotations

import json
import logging
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ragmed.config import Settings, load_settings
from ragmed.errors import RagmedError
from ragmed.types import Answer, IngestReport, Passage

app = typer.Typer(help="ragmed: offline retrieval-augmented medical question answering with checked citations.",
                  no_args_is_help=True, add_completion=False)
console = Console(stderr=True)
out = Console(highlight=False, soft_wrap=True)

IndexOpt = typer.Option(None, "--index", "-i", help="Index name (default: settings.index.name, 'starter').")
JsonOpt = typer.Option(False, "--json", help="Print JSON for scripts.")


def _settings() -> Settings:
    from ragmed.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.logging)
    return settings


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar fed by ``progress(stage, advance, total)`` callbacks (on stderr)."""
    if not enabled:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, advance: int, total: int | None) -> None:
            label = {"read": "reading documents", "embed": "embedding passages", "concepts": "loading ontologies"}.get(stage, stage)
            if stage not in tasks:
                tasks[stage] = bar.add_task(label, total=None)
            task = tasks[stage]
            if total is not None:
                current = bar.tasks[task].total or 0
                bar.update(task, total=current + total)
            if advance:
                bar.advance(task, advance)

        yield update


def _fail(exc: Exception, code: int = 1) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(code)


def _codes_line(concept: Any, most: int = 5) -> str:
    """The concept's CURIE and its codes as people read them (``ICD-10-CM E11``), at most ``most`` systems."""
    from ragmed.ontology.curies import display_codes

    codes = display_codes(concept.codes, skip=concept.curie)
    return ", ".join([concept.curie, *codes[:most]]) + (f", +{len(codes) - most} more" if len(codes) > most else "")


def _open(settings: Settings, index: str | None, quiet: bool = False):  # type: ignore[no-untyped-def]
    from ragmed.engine import Engine

    name = index or settings.index.name
    building = not (settings.index.root / name / "docstore.sqlite").exists() and name == settings.index.name
    if building and not quiet:
        console.print(f"Building the '{name}' index from {settings.knowledge.parent} (first use only)...")
    with progress_bar(building and not quiet) as update:
        return Engine.open(settings, index, progress=update)


def _print_report(report: IngestReport, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
        return
    for error in report.errors:
        console.print(f"[yellow]skipped[/yellow] {error}")
    for flagged in report.flagged:
        console.print(f"[yellow]instruction kept out of answers[/yellow] {flagged}")
    deleted = f", deleted {report.deleted}" if report.deleted else ""
    out.print(f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}{deleted}, "
              f"skipped {report.skipped}; chunks embedded {report.chunks_embedded}, reused from cache {report.chunks_cached}"
              + (f"; {len(report.flagged)} instruction(s) found in {len({f.doc_id for f in report.flagged})} "
                 "document(s), kept out of answers" if report.flagged else ""))


@app.command()
def build(
    paths: Optional[list[Path]] = typer.Argument(None, help="Files or folders; the knowledge manifest when none."),
    index: Optional[str] = IndexOpt,
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Reader to use for every path."),
    factory: Optional[str] = typer.Option(None, help="FAISS factory string, e.g. Flat, IVF256,Flat, HNSW32."),
    as_json: bool = JsonOpt,
) -> None:
    """Build (or update) an index from the knowledge manifest or from the given paths."""
    from ragmed.build import build_index, build_knowledge

    settings = _settings()
    if factory:
        settings = settings.model_copy(update={"index": settings.index.model_copy(update={"factory": factory})})
    try:
        with progress_bar(not as_json) as update:
            if paths:
                report = build_index(paths, settings, name=index, progress=update, fmt=format)
            else:
                report = build_knowledge(settings, name=index, progress=update)
    except RagmedError as exc:
        _fail(exc)
    _print_report(report, as_json)


@app.command()
def add(
    paths: list[Path] = typer.Argument(..., help="Files or folders in any supported format."),
    index: Optional[str] = IndexOpt,
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Reader to use for every path."),
    as_json: bool = JsonOpt,
) -> None:
    """Add or update documents in an existing index (only changed documents are embedded)."""
    settings = _settings()
    try:
        engine = _open(settings, index, quiet=as_json)
        with progress_bar(not as_json) as update:
            report = engine.add_paths(paths, format=format, progress=update)
    except RagmedError as exc:
        _fail(exc)
    _print_report(report, as_json)


@app.command()
def delete(
    doc_ids: list[str] = typer.Argument(..., help="Document ids, e.g. pmid:12345 or medquad:GARD/0000001-1."),
    index: Optional[str] = IndexOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Delete documents by id."""
    settings = _settings()
    try:
        deleted = _open(settings, index, quiet=as_json).delete(doc_ids)
    except RagmedError as exc:
        _fail(exc)
    if as_json:
        out.print_json(json.dumps({"deleted": deleted, "requested": len(doc_ids)}))
    else:
        out.print(f"deleted {deleted} of {len(doc_ids)} document(s)")


@app.command()
def search(
    query: str = typer.Argument(..., help="Search text."),
    k: int = typer.Option(5, "-k", help="Passages to return."),
    mode: Optional[str] = typer.Option(None, help="dense, bm25 or hybrid."),
    source: Optional[list[str]] = typer.Option(None, help="Only these sources (repeatable)."),
    year_min: Optional[int] = typer.Option(None, help="Earliest publication year."),
    year_max: Optional[int] = typer.Option(None, help="Latest publication year."),
    index: Optional[str] = IndexOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Search the index and print passages with scores and provenance."""
    settings = _settings()
    filters = {"sources": source or None, "year_min": year_min, "year_max": year_max}
    try:
        passages = _open(settings, index, quiet=as_json).search(query, k=k, mode=mode, filters=filters)
    except RagmedError as exc:
        _fail(exc, 2 if "empty" in str(exc) else 1)
    if as_json:
        out.print_json(json.dumps([p.to_dict() for p in passages]))
        return
    for rank, p in enumerate(passages, start=1):
        _print_passage(rank, p)


def _print_passage(rank: int, p: Passage) -> None:
    out.print(f"[bold]{rank}.[/bold] {p.title} [dim]({p.doc_id}, {p.source}{', ' + p.date[:4] if p.date else ''})"
              f" score {p.score:.4f}[/dim]")
    if p.url:
        out.print(f"   {p.url}")
    snippet = p.text if len(p.text) < 300 else p.text[:300] + "..."
    out.print(f"   {snippet}\n")


@app.command()
def ask(
    question: str = typer.Argument(..., help="The question."),
    audience: Optional[str] = typer.Option(None, help="clinician or public."),
    k: Optional[int] = typer.Option(None, "-k", help="Passages used as evidence."),
    generator: Optional[str] = typer.Option(None, help="extractive, llamacpp, transformers or openai."),
    source: Optional[list[str]] = typer.Option(None, help="Only these sources (repeatable)."),
    stream: bool = typer.Option(True, help="Stream generated tokens as they are written."),
    index: Optional[str] = IndexOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Answer a question with checked citations."""
    settings = _settings()
    if not question.strip():
        console.print("[red]error:[/red] the question is empty")
        raise typer.Exit(2)
    filters = {"sources": source} if source else None
    try:
        engine = _open(settings, index, quiet=as_json)
        if as_json or not stream:
            answer = engine.ask(question, audience=audience, k=k, filters=filters, generator=generator)
        else:
            answer = _stream(engine, question, audience, k, filters, generator)
    except RagmedError as exc:
        _fail(exc, 2 if "empty" in str(exc) or "must be" in str(exc) else 1)
    if as_json:
        out.print_json(json.dumps(answer.to_dict(), default=str))
    else:
        _print_answer(answer, engine.info().get("attribution", []))


def _stream(engine, question, audience, k, filters, generator) -> Answer:  # type: ignore[no-untyped-def]
    streamed = False
    answer = None
    for event in engine.stream(question, audience=audience, k=k, filters=filters, generator=generator):
        if event["type"] == "token":
            if not streamed:
                console.print("[dim]draft (checking citations when done):[/dim]")
            streamed = True
            console.print(event["text"], end="", markup=False, highlight=False)
        elif event["type"] == "answer":
            answer = event["answer"]
    if streamed:
        console.print("\n")
    assert answer is not None
    return answer


def _print_answer(answer: Answer, attribution: list[dict[str, str]]) -> None:
    for flag in answer.flags:
        if flag.kind == "emergency":
            out.print(f"[bold red]{flag.message}[/bold red]")
    out.print(answer.text + "\n")
    if answer.fallback_reason:
        out.print(f"[yellow]note:[/yellow] {answer.fallback_reason}")
    for c in answer.citations:
        where = c.url or c.doc_id
        out.print(f"[bold][{c.n}][/bold] {c.title} — {where}\n     \"{c.sentence}\" [dim](chars {c.start}-{c.end} of {c.doc_id})[/dim]")
    if answer.concepts:
        out.print("\nConcepts: " + "; ".join(f"{c.label} ({_codes_line(c)})" for c in answer.concepts))
    for flag in answer.flags:
        if flag.kind in ("disclaimer", "declined"):
            out.print(f"[dim]{flag.message}[/dim]")
    used = {c.source.split("/")[0] for c in answer.citations}
    lines = [a["attribution"] for a in attribution if a["name"].split("-")[0] in used or
             (a["name"] == "doid" and "ontology" in used) or (a["name"] == "gemma" and answer.generator == "llamacpp")]
    if lines:
        out.print("\n[dim]" + "\n".join(lines) + "[/dim]")


@app.command()
def info(index: Optional[str] = IndexOpt, as_json: bool = JsonOpt) -> None:
    """Show an index: model, dimension, factory, revision, counts, sources, attribution."""
    settings = _settings()
    try:
        data = _open(settings, index, quiet=as_json).info()
    except RagmedError as exc:
        _fail(exc)
    if as_json:
        out.print_json(json.dumps(data, default=str))
        return
    for key, value in data.items():
        if key == "attribution":
            out.print("attribution:")
            for a in value:
                out.print(f"  - {a['attribution']}")
        else:
            out.print(f"{key}: {value}")


@app.command()
def repair(index: Optional[str] = IndexOpt) -> None:
    """Rebuild an index's FAISS and BM25 files from its docstore (after damage)."""
    from ragmed.index.store import IndexStore

    settings = _settings()
    name = index or settings.index.name
    try:
        store = IndexStore.open(settings.index.root / name, None, None, settings.index, repair=True)
    except RagmedError as exc:
        _fail(exc)
    out.print(f"repaired index {name!r} at revision {store.manifest.revision}")


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, help="Bind address (default 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, help="Port (default 8000)."),
    index: Optional[str] = IndexOpt,
) -> None:
    """Serve the HTTP API and the web page."""
    from api import serve as serve_api

    settings = _settings()
    url = f"http://{host or settings.api.host}:{port or settings.api.port}/"
    console.print(f"ragmed serving index '{index or settings.index.name}' at {url} (API docs at {url}docs)")
    serve_api(settings, host, port, index)


def _register_optional() -> None:
    """Commands whose modules live in other packages (ontology, eval)."""
    from ragmed.ontology.cli import register as register_ontology

    register_ontology(app)
    from ragmed.safety.cli import register as register_safety

    register_safety(app)
    try:
        from eval.cli import app as eval_app
    except ModuleNotFoundError as exc:
        if exc.name != "eval":
            raise
    else:
        app.add_typer(eval_app, name="eval", help="Benchmark ragmed on medical QA sets.")


_register_optional()


def main() -> None:
    """Entry point of the ``ragmed`` script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
