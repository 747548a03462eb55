"""Run a benchmark: select items, answer each, append the trace, then summarise and report.

Example:
    >>> result = run_eval(RunConfig(dataset="pubmedqa", baseline="majority", limit=20), Path("runs/majority"))  # doctest: +SKIP
    >>> result.summary["overall"]["accuracy"]["value"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.datasets import Dataset, load_dataset
from eval.items import EvalItem
from eval.manifest import (
    build_manifest,
    now,
    read_manifest,
    run_identity,
    write_manifest,
)
from eval.predict import (
    MODES,
    EnginePredictor,
    MajorityBaseline,
    Predictor,
    RandomBaseline,
)
from eval.report import PLOT_FILES
from eval.scoring import score_item
from eval.summary import summarize
from eval.trace import TRACE, TraceWriter, read_trace
from ragmed.config import Settings, load_settings
from ragmed.errors import ConfigError, RagmedError

BASELINES = ("random", "majority")
GENERATORS = ("extractive", "llamacpp", "transformers", "openai")
RETRIEVAL_MODES = ("dense", "bm25", "hybrid")


@dataclass
class RunConfig:
    """What a run evaluates; every field is part of the run's identity (resume checks it)."""

    dataset: str
    mode: str = "rag"
    generator: str = "extractive"
    limit: int | None = None
    seed: int = 0
    baseline: str | None = None
    retrieval: str | None = None
    index: str | None = None
    k: int | None = None
    format: str | None = None

    def validate(self) -> None:
        """Raises: ConfigError naming the first bad value."""
        checks: list[tuple[str, str | None, tuple[str | None, ...]]] = [
            ("mode", self.mode, MODES), ("generator", self.generator, GENERATORS),
            ("baseline", self.baseline, (None, *BASELINES)), ("retrieval", self.retrieval, (None, *RETRIEVAL_MODES))]
        for name, value, allowed in checks:
            if value not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(str(a) for a in allowed if a)}, got {value!r}")
        for label, number in (("limit", self.limit), ("k", self.k)):
            if number is not None and number < 1:
                raise ConfigError(f"{label} must be at least 1, got {number}")


@dataclass
class RunResult:
    """A finished (or resumed) run: its folder, manifest, summary and records."""

    folder: Path
    manifest: dict[str, Any]
    summary: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)


def select(items: list[EvalItem], limit: int | None, seed: int) -> list[EvalItem]:
    """The items of a run: all of them, or ``limit`` of them sampled by ``seed`` (kept in file order)."""
    if limit is None or limit >= len(items):
        return list(items)
    chosen = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in chosen]


def run_eval(config: RunConfig, out: Path, *, settings: Settings | None = None, engine: Any = None,
             data_root: Path | None = None, overwrite: bool = False, show_progress: bool = True,
             console: Any = None, predictor: Predictor | None = None) -> RunResult:
    """Evaluate ``config`` into the folder ``out``, resuming when ``out`` holds the same run.

    Args:
        config: the run.
        out: run folder: ``manifest.json``, ``trace.jsonl``, ``summary.json``, ``report.md``, ``report.html``.
        settings: base settings (environment and presets when None); the generator and retrieval
            mode of ``config`` override them.
        engine: an open engine to use instead of opening ``config.index``.
        data_root: where known dataset names live.
        overwrite: start afresh even if ``out`` holds another run.
        show_progress: draw a progress bar.
        console: a ``rich`` console for the bar and messages.
        predictor: answer with this instead of the engine or a baseline.

    Raises:
        ConfigError: a bad option, a mode the dataset cannot be run in, or ``out`` holding another run.
        IngestError: the dataset cannot be read.
    """
    config.validate()
    dataset = load_dataset(config.dataset, format=config.format, data_root=data_root)
    items = select(dataset.items, config.limit, config.seed)
    _check_mode(config, items)
    out.mkdir(parents=True, exist_ok=True)
    identity = run_identity(config, dataset, items)
    _prepare_folder(out, identity, overwrite)
    own_engine = engine is None and predictor is None and config.baseline is None
    if own_engine:
        settings = _settings(settings or load_settings(), config)
        from ragmed.engine import Engine

        engine = Engine.open(settings, config.index)
    try:
        predictor = predictor or _predictor(config, dataset, engine)
        manifest = build_manifest(config, dataset, identity, engine, items)
        previous = read_manifest(out)
        if previous is not None:
            manifest["created"] = previous.get("created", manifest["created"])
            manifest["resumed"] = [*previous.get("resumed", []), now()]
        write_manifest(out, manifest)
        done = {r["id"] for r in read_trace(out / TRACE)}
        _answer([i for i in items if i.id not in done], len(done), len(items), predictor, config.mode,
                out / TRACE, show_progress, console)
    finally:
        if own_engine and engine is not None:
            engine.close()
    return finish_run(out, manifest, items)


def finish_run(out: Path, manifest: dict[str, Any], items: list[EvalItem] | None = None) -> RunResult:
    """Summarise the trace of ``out`` and write ``summary.json`` and the reports."""
    from eval.report import write_reports

    records = read_trace(out / TRACE)
    if items is not None:
        order = {item.id: n for n, item in enumerate(items)}
        records = sorted((r for r in records if r["id"] in order), key=lambda r: order[r["id"]])
    summary = summarize(records, seed=int(manifest.get("run", {}).get("seed", 0)))
    manifest = {**manifest, "finished": now(), "completed": len(records)}
    write_manifest(out, manifest)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")
    write_reports(out, manifest, summary, records)
    return RunResult(out, manifest, summary, records)


def _answer(items: list[EvalItem], done: int, total: int, predictor: Predictor, mode: str, trace: Path,
            show_progress: bool, console: Any) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, disable=not show_progress) as bar, TraceWriter(trace) as writer:
        task = bar.add_task(f"eval {predictor.name}", total=total, completed=done)
        for item in items:
            writer.write(_record(item, predictor, mode))
            bar.advance(task)


def _record(item: EvalItem, predictor: Predictor, mode: str) -> dict[str, Any]:
    from eval.predict import Prediction

    error = None
    started = time.perf_counter()
    try:
        prediction = predictor.predict(item)
    except RagmedError as exc:
        error, prediction = f"{type(exc).__name__}: {exc}", Prediction(abstained=True, generator=predictor.name)
    prediction.timings["total_s"] = time.perf_counter() - started
    return {"id": item.id, "dataset": item.dataset, "question": item.question,
            "gold": {"answer": item.answer, "doc_ids": item.gold_doc_ids},
            "prediction": prediction.to_dict(), "metrics": score_item(item, prediction, mode), "error": error}


def _check_mode(config: RunConfig, items: list[EvalItem]) -> None:
    if config.baseline:
        open_items = [i.id for i in items if not i.options]
        if open_items:
            raise ConfigError(f"baseline {config.baseline!r} needs a classification set; {len(open_items)} "
                              f"item(s) have no options (first: {open_items[0]})")
    if config.mode == "oracle" and not config.baseline:
        missing = [i.id for i in items if not i.context]
        if missing:
            raise ConfigError(f"oracle mode needs gold context; {len(missing)} of {len(items)} item(s) have none "
                              f"(first: {missing[0]})")


def _prepare_folder(out: Path, identity: dict[str, Any], overwrite: bool) -> None:
    previous = read_manifest(out)
    if previous is not None and not overwrite and previous.get("run") != identity:
        changed = sorted(k for k in identity if previous.get("run", {}).get(k) != identity[k])
        raise ConfigError(f"{out} holds another run (differs in {', '.join(changed)}); "
                          "choose another --out or pass --overwrite")
    if previous is None and (out / TRACE).exists() and not overwrite:
        raise ConfigError(f"{out} holds a {TRACE} without a manifest; choose another --out or pass --overwrite")
    if overwrite or previous is None:
        for name in (TRACE, "manifest.json", "summary.json", "report.md", "report.html", *PLOT_FILES):
            (out / name).unlink(missing_ok=True)


def _settings(settings: Settings, config: RunConfig) -> Settings:
    generation = settings.generation.model_copy(update={"backend": config.generator})
    update: dict[str, Any] = {"generation": generation}
    if config.retrieval:
        update["retrieval"] = settings.retrieval.model_copy(update={"mode": config.retrieval})
    return settings.model_copy(update=update)


def _predictor(config: RunConfig, dataset: Dataset, engine: Any) -> Predictor:
    if config.baseline == "random":
        return RandomBaseline(config.seed)
    if config.baseline == "majority":
        return MajorityBaseline(dataset.items)
    if config.retrieval and engine.settings.retrieval.mode != config.retrieval:
        raise ConfigError(f"retrieval {config.retrieval!r} differs from the given engine's "
                          f"{engine.settings.retrieval.mode!r}; let the run open its own engine")
    return EnginePredictor(engine, config.mode, config.generator, config.k)
