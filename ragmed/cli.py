"""The ``ragmed`` command line: build, add, delete, search, ask, info, repair, concepts, serve, eval.

Exit statuses (the README's table): 0 done; 1 error (nothing was ingested, an index that cannot be
opened, a failed backend); 2 usage (a bad option or value, an empty question, invalid settings);
3 partial ingest (some records or inputs were skipped and reported, the rest went in); 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ragmed.config import Settings, load_settings
from ragmed.errors import ConfigError, InvalidRequestError, RagmedError
from ragmed.text import is_blank
from ragmed.types import Answer, IngestReport, Passage, SkippedShard

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3

app = typer.Typer(help="ragmed: offline retrieval-augmented medical question answering with checked citations.",
                  no_args_is_help=True, add_completion=False)
console = Console(stderr=True)
out = Console(highlight=False, soft_wrap=True)

IndexOpt = typer.Option(None, "--index", "-i", help="Index name (default: settings.index.name, 'starter').")
JsonOpt = typer.Option(False, "--json", help="Print JSON for scripts.")


def _settings() -> Settings:
    from ragmed.logs import configure_logging

    try:
        settings = load_settings()
    except ConfigError as exc:
        _fail(exc)
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
            label = {"read": "reading documents", "embed": "embedding passages", "concepts": "loading ontologies",
                     "ray": "embedding passages with Ray"}.get(stage, stage)
            if stage not in tasks:
                tasks[stage] = bar.add_task(label, total=None)
            task = tasks[stage]
            if total is not None:
                current = bar.tasks[task].total or 0
                bar.update(task, total=current + total)
            if advance:
                bar.advance(task, advance)

        yield update


def _fail(exc: Exception) -> NoReturn:
    """Print ``exc`` and exit: status 2 for a request or setting that cannot be used as given, else 1."""
    console.print(f"[red]error:[/red] {escape(str(exc))}")
    raise typer.Exit(EXIT_USAGE if isinstance(exc, (InvalidRequestError, ConfigError)) else EXIT_ERROR)


def _usage(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(EXIT_USAGE)


def _codes_line(concept: Any, most: int = 5) -> str:
    """The concept's CURIE and its codes as people read them (``ICD-10-CM E11``), at most ``most`` systems."""
    from ragmed.ontology.curies import display_codes

    codes = display_codes(concept.codes, skip=concept.curie)
    return ", ".join([concept.curie, *codes[:most]]) + (f", +{len(codes) - most} more" if len(codes) > most else "")


def _open(settings: Settings, index: str | None, quiet: bool = False):  # type: ignore[no-untyped-def]
    from ragmed.engine import Engine

    name = index or settings.index.name
    building = (not (settings.index.root / name / "docstore.sqlite").exists() and name == settings.index.name
                and not (index is None and settings.index.shards))
    if building and not quiet:
        console.print(f"Building the '{name}' index from {settings.knowledge.parent} (first use only)...")
    with progress_bar(building and not quiet) as update:
        return Engine.open(settings, index, progress=update)


def _report_and_exit(report: IngestReport, as_json: bool) -> NoReturn:
    """Print the counts (and every skipped record), then exit with ``ingest_status``."""
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        for error in report.errors:
            console.print(f"[yellow]skipped[/yellow] {error}")
        for flagged in report.flagged:
            console.print(f"[yellow]instruction kept out of answers[/yellow] {flagged}")
        deleted = f", deleted {report.deleted}" if report.deleted else ""
        found = (f"; {len(report.flagged)} instruction(s) in {len({f.doc_id for f in report.flagged})} document(s) "
                 "kept out of answers") if report.flagged else ""
        out.print(f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}{deleted}, "
                  f"skipped {report.skipped}; chunks embedded {report.chunks_embedded}, "
                  f"reused from cache {report.chunks_cached}{found}")
    status = ingest_status(report)
    if status == EXIT_ERROR:
        why = f"every input or record failed; first: {report.errors[0]}" if report.errors \
            else "no documents were found in the given paths"
        console.print(f"[red]error:[/red] nothing was ingested: {escape(why)}")
    raise typer.Exit(status)


def _stop_if_all_missing(paths: list[Path], as_json: bool) -> None:
    """Exit with status 1 before any index is opened (or built) when no given path exists."""
    from ragmed.types import RecordError

    if not any(path.exists() for path in paths):
        report = IngestReport(errors=[RecordError(str(path), "no such file or folder") for path in paths])
        _report_and_exit(report, as_json)


def ingest_status(report: IngestReport) -> int:
    """The exit status of an ingest: 1 when nothing from the inputs is in the index because every input or
    record failed (or none was found), 3 when some were skipped and the rest went in, else 0."""
    present = report.added + report.updated + report.unchanged
    if present == 0 and (report.errors or not report.deleted):
        return EXIT_ERROR
    return EXIT_PARTIAL if report.errors else EXIT_OK


@app.command()
def build(
    paths: list[Path] | None = typer.Argument(None, help="Files or folders; the knowledge manifest when none."),
    index: str | None = IndexOpt,
    format: str | None = typer.Option(None, "--format", "-f", help="Reader to use for every path."),
    factory: str | None = typer.Option(None, help="FAISS factory string, e.g. Flat, IVF256,Flat, HNSW32."),
    engine: str = typer.Option("local", "--engine", help="local, or ray: embed with Ray Data (an actor pool, "
                               "GPUs when Ray sees them; settings.distributed) and build from its shards. "
                               "Needs the extra ragmed[ray]."),
    as_json: bool = JsonOpt,
) -> None:
    """Build (or update) an index from the knowledge manifest or from the given paths."""
    from ragmed.build import build_index, build_knowledge

    if engine not in ("local", "ray"):
        _usage(f"--engine must be local or ray, got {engine!r}")
    if paths:
        _stop_if_all_missing(paths, as_json)
    settings = _settings()
    if factory:
        settings = settings.model_copy(update={"index": settings.index.model_copy(update={"factory": factory})})
    try:
        with progress_bar(not as_json) as update:
            if paths:
                report = build_index(paths, settings, name=index, progress=update, fmt=format, engine=engine)
            else:
                report = build_knowledge(settings, name=index, progress=update, engine=engine)
    except RagmedError as exc:
        _fail(exc)
    _report_and_exit(report, as_json)


@app.command()
def add(
    paths: list[Path] = typer.Argument(..., help="Files or folders in any supported format."),
    index: str | None = IndexOpt,
    format: str | None = typer.Option(None, "--format", "-f", help="Reader to use for every path."),
    as_json: bool = JsonOpt,
) -> None:
    """Add or update documents in an existing index (only changed documents are embedded)."""
    _stop_if_all_missing(paths, as_json)
    settings = _settings()
    try:
        engine = _open(settings, index, quiet=as_json)
        with progress_bar(not as_json) as update:
            report = engine.add_paths(paths, format=format, progress=update)
    except RagmedError as exc:
        _fail(exc)
    _report_and_exit(report, as_json)


@app.command()
def delete(
    doc_ids: list[str] = typer.Argument(..., help="Document ids, e.g. pmid:12345 or medquad:GARD/0000001-1."),
    index: str | None = IndexOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Delete documents by id."""
    from ragmed.build import delete as delete_documents
    from ragmed.index.shards import read_only
    from ragmed.index.store import IndexStore

    settings = _settings()
    try:
        if index is None and settings.index.shards:
            raise read_only(list(settings.index.shards))
        # A delete needs no embedding model: the index alone is opened, so it costs what the change costs.
        store = IndexStore.open(settings.index.root / (index or settings.index.name), None, None, settings.index)
        try:
            deleted = delete_documents(store, doc_ids)
        finally:
            store.close()
    except RagmedError as exc:
        _fail(exc)
    if as_json:
        out.print_json(json.dumps({"deleted": deleted, "requested": len(doc_ids)}))
    else:
        out.print(f"deleted {deleted} of {len(doc_ids)} document(s)")


@app.command()
def search(
    query: str = typer.Argument(..., help="Search text."),
    k: int = typer.Option(5, "-k", min=1, help="Passages to return."),
    mode: str | None = typer.Option(None, help="dense, bm25 or hybrid."),
    source: list[str] | None = typer.Option(None, help="Only these sources (repeatable)."),
    year_min: int | None = typer.Option(None, help="Earliest publication year."),
    year_max: int | None = typer.Option(None, help="Latest publication year."),
    index: str | None = IndexOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Search the index and print passages with scores and provenance."""
    from ragmed.retrieve import MODES

    if is_blank(query):
        _usage("the search text is empty")
    if mode is not None and mode not in MODES:
        _usage(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    settings = _settings()
    filters = {"sources": source or None, "year_min": year_min, "year_max": year_max}
    try:
        engine = _open(settings, index, quiet=as_json)
        with engine.skipped_shards() as skipped:
            passages = engine.search(query, k=k, mode=mode, filters=filters)
    except RagmedError as exc:
        _fail(exc)
    _print_skipped(skipped)
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
    audience: str | None = typer.Option(None, help="clinician or public."),
    k: int | None = typer.Option(None, "-k", min=1, help="Passages used as evidence."),
    generator: str | None = typer.Option(None, help="extractive, llamacpp, transformers or openai."),
    source: list[str] | None = typer.Option(None, help="Only these sources (repeatable)."),
    stream: bool = typer.Option(True, help="Stream each sentence once it has passed the citation check."),
    draft: bool = typer.Option(False, "--draft", help="Clinician audience: also stream the model's unchecked draft."),
    index: str | None = IndexOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Answer a question with checked citations."""
    if is_blank(question):
        _usage("the question is empty")
    settings = _settings()
    filters = {"sources": source} if source else None
    try:
        engine = _open(settings, index, quiet=as_json)
        if as_json or not stream:
            answer = engine.ask(question, audience=audience, k=k, filters=filters, generator=generator)
        else:
            answer = _stream(engine, question, audience, k, filters, generator, draft)
    except RagmedError as exc:
        _fail(exc)
    if as_json:
        out.print_json(json.dumps(answer.to_dict(), default=str))
    else:
        _print_answer(answer, engine.info().get("attribution", []), streamed=stream)


def _stream(engine, question, audience, k, filters, generator, draft) -> Answer:  # type: ignore[no-untyped-def]
    """Print checked sentences as they pass the citation check (and, on request, the clinician's draft)."""
    from ragmed.types import AnswerEvent, DraftEvent, LeadEvent, SentenceEvent

    answer = None
    drafted = False
    for event in engine.stream(question, audience=audience, k=k, filters=filters, generator=generator, draft=draft):
        if isinstance(event, DraftEvent):
            if not drafted:
                console.print("[dim]draft (unchecked):[/dim]")
                drafted = True
            console.print(event.text, end="", markup=False, highlight=False)
        elif isinstance(event, LeadEvent):
            out.print(f"[bold red]{event.text}[/bold red]\n")
        elif isinstance(event, SentenceEvent):
            if drafted:
                console.print("")
                drafted = False
            out.print(event.text + " ", end="", markup=False, highlight=False)
        elif isinstance(event, AnswerEvent):
            answer = event.answer
    assert answer is not None
    if answer.abstained and not any(f.kind in ("emergency", "declined") for f in answer.flags):
        from ragmed.cite import ABSTAIN

        out.print(ABSTAIN, markup=False, highlight=False)
    out.print("\n")
    return answer


def _print_skipped(skipped: list[SkippedShard]) -> None:
    """Warn (on stderr) that the results come from part of the shard set, naming each shard left out and why."""
    for shard in skipped:
        console.print(f"[yellow]warning:[/yellow] shard {escape(shard.name)!r} left out: {escape(shard.reason)}")


def _print_answer(answer: Answer, attribution: list[dict[str, str]], streamed: bool = False) -> None:
    if not streamed:
        for flag in answer.flags:
            if flag.kind == "emergency":
                out.print(f"[bold red]{flag.message}[/bold red]")
        out.print(answer.text + "\n")
    if answer.fallback_reason:
        out.print(f"[yellow]note:[/yellow] {answer.fallback_reason}")
    for shard in answer.skipped_shards:
        out.print(f"[yellow]note:[/yellow] answered without shard {escape(shard.name)!r}: {escape(shard.reason)}")
    for c in answer.citations:
        where = c.url or c.doc_id
        out.print(f"[bold][{c.n}][/bold] {c.title} — {where}\n     \"{c.sentence}\" [dim](chars {c.start}-{c.end} of {c.doc_id})[/dim]")
    if answer.concepts:
        out.print("\nConcepts: " + "; ".join(f"{c.label} ({_codes_line(c)})" for c in answer.concepts))
    for flag in answer.flags:
        if flag.kind == "disclaimer" or (flag.kind == "declined" and not streamed):
            out.print(f"[dim]{flag.message}[/dim]")
    used = {c.source.split("/")[0] for c in answer.citations}
    lines = [a["attribution"] for a in attribution if a["name"].split("-")[0] in used or
             (a["name"] == "doid" and "ontology" in used) or (a["name"] == "gemma" and answer.generator == "llamacpp")]
    if lines:
        out.print("\n[dim]" + "\n".join(lines) + "[/dim]")


@app.command()
def info(index: str | None = IndexOpt, as_json: bool = JsonOpt) -> None:
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
def repair(index: str | None = IndexOpt) -> None:
    """Rebuild an index's FAISS and BM25 files from its docstore (after damage)."""
    from ragmed.index.store import IndexStore

    settings = _settings()
    name = index or settings.index.name
    try:
        store = IndexStore.open(settings.index.root / name, None, None, settings.index, repair=True)
    except RagmedError as exc:
        _fail(exc)
    out.print(f"repaired index {name!r} at revision {store.revision}")
    store.close()


#: Modules that add commands to ``ragmed`` with their ``register(app)``, named rather than imported so that the
#: CLI depends on none of them: the API and the evaluation harness sit above the engine, the CLI beside them.
#: A module whose top-level package is not installed (``eval`` outside a source checkout) is left out.
COMMANDS = ("api.cli", "ragmed.ontology.cli", "ragmed.train_cli", "eval.cli")


def _register_optional() -> None:
    """Add the commands of every module in ``COMMANDS`` that is installed."""
    import importlib

    for name in COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name.split(".")[0]:
                raise
            continue
        module.register(app)


_register_optional()


def main() -> None:
    """Entry point of the ``ragmed`` script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
