"""``ragmed train triage`` and ``ragmed train injection``: retrain the shipped safety weights.

``register(app)`` adds both commands to the ``ragmed train`` application.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ragmed.errors import RagmedError

EVAL_SETS = Path("eval/sets")


def register(app: typer.Typer) -> None:
    """Add ``triage`` and ``injection`` to ``app`` (``ragmed train``)."""
    app.command("triage")(train_triage_command)
    app.command("injection")(train_injection_command)


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(1)


def _previous_point(folder: Path, name: str) -> dict[str, float] | None:
    path = folder / f"{name}.json"
    if not path.exists():
        return None
    point: dict[str, float] = json.loads(path.read_text(encoding="utf-8")).get("operating_point") or {}
    return point or None


def train_triage_command(
    seed: Annotated[int, typer.Option(help="Solver seed.")] = 0,
    index: Annotated[str | None, typer.Option(help="Index whose concept store links the bank's concepts.")] = None,
    concepts: Annotated[bool, typer.Option(help="Train with ontology concepts and expanded queries.")] = True,
    out: Annotated[Path | None, typer.Option(help="Folder for triage.npz/json (default: the shipped weights).")] = None,
    emergency: Annotated[float | None, typer.Option(help="Public emergency threshold to record.")] = None,
    emergency_clinician: Annotated[float | None, typer.Option(help="Clinician emergency threshold.")] = None,
    personal: Annotated[float | None, typer.Option(help="Personal-request threshold to record.")] = None,
) -> None:
    """Train the emergency and personal-request classifiers on the bank (thresholds kept unless given)."""
    from ragmed.config import load_settings
    from ragmed.engine import shared_embedder
    from ragmed.safety import bank_folder, load_bank
    from ragmed.safety.concepts import expander, open_concepts
    from ragmed.safety.model import WEIGHTS
    from ragmed.safety.train_triage import train_triage
    from ragmed.safety.triage_features import ConceptCategories

    settings = load_settings()
    folder = out or WEIGHTS
    try:
        bank = load_bank(bank_folder(settings.knowledge, settings.safety.bank))
        embedder = shared_embedder(settings)
        from ragmed.build import open_cache

        cache = open_cache(settings, embedder)
        link, members = None, None
        if concepts:
            service = open_concepts(settings, index)
            link = expander(service)
            members = ConceptCategories.from_store(service.store, {c.id: c.concepts for c in bank.categories},
                                                   bank.category_ids)
        point = {**(_previous_point(folder, "triage") or {}),
                 **{k: v for k, v in (("emergency", emergency), ("emergency_clinician", emergency_clinician),
                                      ("personal", personal)) if v is not None}}
        from ragmed.safety.train_injection import evaluation_texts

        manifest = train_triage(bank, embedder, seed=seed, cache=cache, link=link, concepts=members, folder=folder,
                                operating_point=point or None, held_out=evaluation_texts(EVAL_SETS),
                                evaluate=_dev_evaluator(settings, index))
    except RagmedError as exc:
        _fail(exc)
    typer.echo(f"triage weights written to {folder} in {manifest['train_seconds']} s "
               f"({manifest['training']['rows']} rows); dev: {json.dumps(manifest.get('dev_metrics', {}))}")


def _dev_evaluator(settings: Any, index: str | None) -> Any:
    """Figures on the dev half of the safety set, when the evaluation harness and set are present."""
    path = EVAL_SETS / "safety" / "questions.jsonl"
    try:
        from eval.safety import dev_figures
    except ModuleNotFoundError:
        return None
    if not path.exists():
        return None
    return lambda folder: dev_figures(settings, path, folder, index)


def train_injection_command(
    seed: Annotated[int, typer.Option(help="Sampling and solver seed.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Folder for injection.npz/json (default: the shipped weights).")] = None,
    threshold: Annotated[float | None, typer.Option(help="Sentence threshold to record.")] = None,
    pair_threshold: Annotated[float | None, typer.Option(help="Sentence-pair threshold to record.")] = None,
) -> None:
    """Train the injection detector on the bank and the starter literature (thresholds kept unless given).

    Texts found in eval/sets (when present) are left out of training.
    """
    from ragmed.config import load_settings
    from ragmed.safety import bank_folder, load_bank
    from ragmed.safety.model import WEIGHTS
    from ragmed.safety.train_injection import evaluation_texts, train_injection

    settings = load_settings()
    folder = out or WEIGHTS
    point = {**(_previous_point(folder, "injection") or {}),
             **{k: v for k, v in (("threshold", threshold), ("pair_threshold", pair_threshold)) if v is not None}}
    try:
        bank = load_bank(bank_folder(settings.knowledge, settings.safety.bank))
        manifest = train_injection(bank, settings.knowledge, seed=seed, held_out=evaluation_texts(EVAL_SETS),
                                   operating_point=point or None, folder=folder)
    except RagmedError as exc:
        _fail(exc)
    typer.echo(f"injection weights written to {folder} in {manifest['train_seconds']} s; "
               f"training: {json.dumps(manifest['training'])}")
