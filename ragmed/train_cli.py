"""``ragmed train``: train the models ragmed ships: the citation verifier, and the safety stage's triage and
injection detector (which record figures on the dev half of the safety set when the evaluation harness is there)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ragmed.errors import ConfigError, IngestError, RagmedError
from ragmed.jsonl import iter_jsonl
from ragmed.verify.data import Example

app = typer.Typer(help="Train the models ragmed ships, from the knowledge, deterministically for a seed.",
                  no_args_is_help=True, add_completion=False)
console = Console(stderr=True)
out = Console(highlight=False, soft_wrap=True)
EVAL_SETS = Path("eval/sets")


def register(parent: typer.Typer) -> None:
    """Add ``ragmed train`` to the ``ragmed`` command."""
    parent.add_typer(app, name="train", help="Train the models ragmed ships (citation verifier, triage, "
                     "injection detector).")


def read_pairs(path: Path) -> list[Example]:
    """Pairs from a JSONL file (``.gz`` too) written by ``--pairs-out``.

    Raises:
        IngestError: the file cannot be read or a line is not a pair; the message names the file, line and field.
    """
    pairs = []
    for location, record in iter_jsonl(path):
        try:
            pairs.append(Example(**record))
        except TypeError as exc:
            raise IngestError(f"not a verifier pair: {exc}", location=location) from exc
    return pairs


def gold_documents(path: Path, split: str = "test") -> set[str]:
    """Document ids cited by the ``split`` half of a citation gold set (kept out of training)."""
    return {str(item["doc_id"]) for _, item in iter_jsonl(path) if item.get("split") == split and item.get("doc_id")}


@app.command("verifier")
def verifier(
    out_dir: Path = typer.Option(Path("models/verifier"), "--out", "-o", help="Folder the trained model goes to."),
    index: str | None = typer.Option(None, "--index", "-i", help="Index whose ontology links claims (default: starter)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the pairs, the initialisation and the data order."),
    epochs: float = typer.Option(1.0, "--epochs", help="Passes over the training pairs."),
    max_minutes: float = typer.Option(40.0, "--max-minutes", help="Stop and save after this long (resume by re-running)."),
    per_document: int = typer.Option(3, "--per-document", help="Claims drawn from each document."),
    batch_size: int = typer.Option(16, "--batch-size", help="Pairs per step."),
    learning_rate: float = typer.Option(4e-5, "--learning-rate", help="Peak learning rate."),
    layers: int | None = typer.Option(None, "--layers", help="Keep only the first N transformer layers."),
    gold: Path | None = typer.Option(None, "--gold", help="Citation gold set whose test-half documents are kept out of training."),
    pairs_in: Path | None = typer.Option(None, "--pairs", help="Train on these pairs (JSONL) instead of building them."),
    pairs_out: Path | None = typer.Option(None, "--pairs-out", help="Also write the pairs as JSONL (.gz to compress)."),
    device: str | None = typer.Option(None, "--device", help="torch device (cuda when present, else cpu)."),
    base: Path | None = typer.Option(None, "--base", help="Start from these weights (a verifier folder) instead "
                                        "of the bundled MiniLM, to train further."),
    further: str | None = typer.Option(None, "--further", help="Comma-separated pair kinds to train further on: "
                                       "every training pair of them, as many of the other kinds beside them."),
    also: str | None = typer.Option(None, "--also", help="With --further: more kinds, drawn at random up to --further-size."),
    further_size: int = typer.Option(0, "--further-size", help="With --also: pairs of the --further and --also kinds in all."),
    replay: float = typer.Option(1.0, "--replay", help="With --further: pairs of the other kinds per pair of those kinds."),
) -> None:
    """Fine-tune the citation verifier from the bundled MiniLM weights on pairs built from the knowledge."""
    from ragmed.cli import _open, _settings, progress_bar
    from ragmed.verify.data import PairBuilder, knowledge_documents, ontology_helpers
    from ragmed.verify.train import TrainConfig, train

    settings = _settings()
    try:
        if pairs_in is not None:
            pairs = read_pairs(pairs_in)
        else:
            engine = _open(settings, index)
            concepts = engine.store.folder / "concepts.sqlite"
            link, siblings = ontology_helpers(concepts)
            forced = gold_documents(gold) if gold else set()
            pairs = PairBuilder(link, siblings, seed=seed, forced_test=forced).build(
                knowledge_documents(settings.knowledge), per_document=per_document)
        if pairs_out is not None:
            pairs_out.parent.mkdir(parents=True, exist_ok=True)
            opener = gzip.open if pairs_out.suffix == ".gz" else open
            with opener(pairs_out, "wt", encoding="utf-8") as handle:
                for pair in pairs:
                    handle.write(json.dumps(pair.to_dict()) + "\n")
        if further:
            from ragmed.verify.data import further_mix

            pairs = further_mix(pairs, further.split(","), (also or "").split(","), further_size, seed, replay)
        console.print(f"{sum(p.split == 'train' for p in pairs)} training pairs, "
                      f"{sum(p.split == 'dev' for p in pairs)} dev, {sum(p.split == 'test' for p in pairs)} test")
        config = TrainConfig(out=out_dir, base_model=str(base) if base else None, seed=seed, epochs=epochs,
                             batch_size=batch_size, learning_rate=learning_rate, max_minutes=max_minutes, device=device,
                             layers=layers)
        with progress_bar() as update:
            result = train(pairs, config, progress=update)
    except (RagmedError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2 if isinstance(exc, (ConfigError, ValueError)) else 1) from None
    _record_recipe(result.path, {"pairs": str(pairs_in) if pairs_in else "built from the knowledge",
                                 "per_document": per_document, "gold_test_held_out": str(gold) if gold else None,
                                 "further": further, "also": also, "further_size": further_size, "replay": replay})
    state = "finished" if result.finished else "stopped at the time limit (run the same command again to resume)"
    out.print(f"{state}: {result.steps} steps in {result.seconds:.0f} s -> {result.path}")
    for split, metrics in result.metrics.items():
        for task in ("support",):
            if task in metrics:
                m = metrics[task]
                out.print(f"{split:5} {task:9} precision {m['precision']:.3f} recall {m['recall']:.3f} f1 {m['f1']:.3f} (n={m['n']})")
    out.print(f"Use it with RAGMED_VERIFIER__MODEL_PATH={result.path}")


def _record_recipe(folder: Path, recipe: dict[str, Any]) -> None:
    """Add how the training pairs were chosen to the manifest of the weights in ``folder``."""
    path = folder / "manifest.json"
    if path.exists():
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["pairs_recipe"] = recipe
        path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@app.command("verifier-onnx")
def verifier_onnx(
    graph: Path = typer.Argument(..., help="ONNX file to write (a <file>.json naming its weights goes beside it)."),
    model: Path | None = typer.Option(None, "--model", help="Verifier folder to export (default: the configured "
                                      "verifier.model_path, else the packaged weights)."),
) -> None:
    """Export the citation verifier to ONNX, for RAGMED_VERIFIER__RUNTIME=onnx."""
    from ragmed.cli import _settings
    from ragmed.verify.onnx import export_verifier
    from ragmed.verify.trained import PACKAGED

    folder = model or _settings().verifier.model_path or PACKAGED
    try:
        export_verifier(folder, graph)
    except RagmedError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2 if isinstance(exc, ConfigError) else 1) from None
    out.print(f"exported {folder} -> {graph}")
    out.print(f"Use it with RAGMED_VERIFIER__RUNTIME=onnx RAGMED_VERIFIER__ONNX_PATH={graph}")


def _fail_safety(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(1)


def _previous_point(folder: Path, name: str) -> dict[str, float] | None:
    path = folder / f"{name}.json"
    if not path.exists():
        return None
    point: dict[str, float] = json.loads(path.read_text(encoding="utf-8")).get("operating_point") or {}
    return point or None


@app.command("triage")
def train_triage_command(
    seed: Annotated[int, typer.Option(help="Solver seed.")] = 0,
    index: Annotated[str | None, typer.Option(help="Index whose concept store links the bank's concepts.")] = None,
    concepts: Annotated[bool, typer.Option(help="Train with ontology concepts and expanded queries.")] = True,
    out: Annotated[Path | None, typer.Option(help="Folder for triage.npz/json (default: the shipped weights).")] = None,
    emergency: Annotated[float | None, typer.Option(help="Public emergency threshold to record.")] = None,
    emergency_clinician: Annotated[float | None, typer.Option(help="Clinician emergency threshold.")] = None,
    personal: Annotated[float | None, typer.Option(help="Personal-request threshold to record.")] = None,
    urgent: Annotated[float | None, typer.Option(help="Self-harm and overdose threshold (public) to record.")] = None,
    agreement: Annotated[float | None, typer.Option(
        help="On that self-harm and overdose path, the least probability each classifier must give on its own.")] = None,
    encoder: Annotated[bool, typer.Option(help="Also fine-tune the transformer classifier (minutes on 2 cores); "
                                               "--no-encoder keeps the stored one.")] = True,
    encoder_share: Annotated[float | None, typer.Option(
        help="The fine-tuned classifier's share of the blended probabilities, to record.")] = None,
    epochs: Annotated[float, typer.Option(help="Fine-tuning passes over the bank.")] = 3.0,
    max_minutes: Annotated[float, typer.Option(
        help="Stop fine-tuning after this long (run again to resume).")] = 40.0,
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
                                      ("personal", personal), ("urgent", urgent), ("encoder", encoder_share),
                                      ("agreement", agreement))
                    if v is not None}}
        from ragmed.safety.train_encoder import EncoderConfig
        from ragmed.safety.train_injection import evaluation_texts

        manifest = train_triage(bank, embedder, seed=seed, cache=cache, link=link, concepts=members, folder=folder,
                                operating_point=point or None, held_out=evaluation_texts(EVAL_SETS),
                                evaluate=_dev_evaluator(settings, index),
                                encoder=EncoderConfig(seed=seed, epochs=epochs, max_minutes=max_minutes)
                                if encoder else None)
    except RagmedError as exc:
        _fail_safety(exc)
    if manifest.get("encoder") and not manifest["encoder"]["finished"]:
        typer.echo(f"fine-tuning stopped at the time limit after {manifest['encoder']['steps']} of "
                   f"{manifest['encoder']['total_steps']} steps; run the same command again to resume", err=True)
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


@app.command("injection")
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
        _fail_safety(exc)
    typer.echo(f"injection weights written to {folder} in {manifest['train_seconds']} s; "
               f"training: {json.dumps(manifest['training'])}")
