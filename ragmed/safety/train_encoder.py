"""Training the triage's fine-tuned classifier (part of ``ragmed train triage``).

The bank's texts (each also written with a capital and a closing mark, as ``restyle`` writes it) train the
top layers of MiniLM and both heads with cross-entropy (label smoothing 0.05), AdamW with linear warm-up and
decay. Deterministic for a seed on the CPU; bounded by ``max_minutes`` and resumable: a checkpoint is kept every
``checkpoint_every`` steps and picked up when the same training is run again.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ragmed.batching import epoch_batches
from ragmed.embedding import DEFAULT_MODEL
from ragmed.hashing import sha256_file, sha256_text
from ragmed.safety.encoder import NAME, EncoderNet, base_model_path
from ragmed.safety.rows import BankRows, restyle


@dataclass(frozen=True)
class EncoderConfig:
    """How the classifier is trained.

    Attributes:
        seed: seed of the heads' initialisation, data order and dropout.
        epochs: passes over the texts.
        batch_size: texts per step.
        learning_rate: peak AdamW learning rate.
        top_layers: MiniLM layers trained (the ones below stay as installed).
        layers: keep only MiniLM's first this many layers (faster to run); all six when None.
        max_minutes: stop (and keep a checkpoint) after this long.
        checkpoint_every: steps between checkpoints.
    """

    seed: int = 0
    epochs: float = 3.0
    batch_size: int = 32
    learning_rate: float = 1e-4
    top_layers: int = 2
    layers: int | None = None
    max_minutes: float = 40.0
    checkpoint_every: int = 100


def training_texts(rows: BankRows, emergency_classes: list[str],
                   personal_classes: list[str]) -> tuple[list[str], list[int], list[int]]:
    """Each bank text as written and restyled, with its two labels as class indices."""
    texts, emergency, personal = [], [], []
    for text, e, p in zip(rows.texts, rows.emergency, rows.personal, strict=True):
        for variant in dict.fromkeys((text, restyle(text))):
            texts.append(variant)
            emergency.append(emergency_classes.index(e))
            personal.append(personal_classes.index(p))
    return texts, emergency, personal


def train_encoder(rows: BankRows, emergency_classes: list[str], personal_classes: list[str], folder: Path,
                  config: EncoderConfig = EncoderConfig(), bank_sha256: str = "") -> dict[str, Any]:
    """Fine-tune on the bank rows and save ``triage_encoder.safetensors`` and its manifest in ``folder``.

    Returns:
        The manifest written (``finished`` is False when the time ran out; run again to resume).
    """
    import torch
    from safetensors.torch import save_file

    texts, y_emergency, y_personal = training_texts(rows, emergency_classes, personal_classes)
    data = sha256_text(json.dumps([texts, y_emergency, y_personal]))
    resume_key = sha256_text(json.dumps([data, {k: v for k, v in asdict(config).items()
                                                if k not in ("max_minutes", "checkpoint_every")}]))
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    manifest: dict[str, Any] = {"base_model": DEFAULT_MODEL, "top_layers": config.top_layers, "layers": config.layers,
                                "emergency_classes": emergency_classes, "personal_classes": personal_classes}
    net = EncoderNet(base_model_path(manifest), config.top_layers, emergency_classes, personal_classes,
                     config.layers)
    for parameter in net.encoder.parameters():
        parameter.requires_grad_(False)
    trained = [p for module in net.trained_modules().values() for p in module.parameters()]
    for parameter in trained:
        parameter.requires_grad_(True)
    order = epoch_batches([len(net.tokenizer.tokenize(t)) for t in texts], config.batch_size, config.seed,
                          config.epochs, block=20)
    optimiser = torch.optim.AdamW(trained, lr=config.learning_rate, weight_decay=0.01)
    warmup = max(1, int(0.06 * len(order)))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (len(order) - s) / max(len(order) - warmup, 1))))
    checkpoint = folder / f"{NAME}.checkpoint.pt"
    step, elapsed = 0, 0.0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        if state["checksum"] == resume_key:
            net.load_state(state["tensors"])
            optimiser.load_state_dict(state["optimiser"])
            schedule.load_state_dict(state["schedule"])
            torch.set_rng_state(state["rng"])
            step, elapsed = state["step"], state["elapsed"]
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.05)
    net.encoder.eval()
    started = time.monotonic() - elapsed
    while step < len(order) and time.monotonic() - started < config.max_minutes * 60:
        batch = order[step]
        encoded = net.encode([texts[i] for i in batch])
        with torch.no_grad():
            hidden, mask = net.bottom(encoded)
        for module in net.trained_modules().values():
            module.train()
        emergency, personal = net.top(hidden, mask, encoded["attention_mask"], train=True)
        loss = (loss_fn(emergency, torch.tensor([y_emergency[i] for i in batch]))
                + loss_fn(personal, torch.tensor([y_personal[i] for i in batch])))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        step += 1
        if step % config.checkpoint_every == 0 and step < len(order):
            _checkpoint(checkpoint, net, optimiser, schedule, step, time.monotonic() - started, resume_key)
    seconds = time.monotonic() - started
    finished = step >= len(order)
    if not finished:
        _checkpoint(checkpoint, net, optimiser, schedule, step, seconds, resume_key)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{NAME}.safetensors"
    save_file({name: t.detach().to(torch.float16).contiguous() for name, t in net.state().items()}, str(path))
    manifest.update({
        "model": f"all-MiniLM-L6-v2 (first {len(net.encoder.encoder.layer)} layers) with its top {config.top_layers} "
                 "layers fine-tuned and two softmax heads over mean-pooled token states (stored: the trained tensors, "
                 "float16)",
        "bank_sha256": bank_sha256, "data_sha256": data, "texts": len(texts), "settings": asdict(config),
        "steps": step, "total_steps": len(order), "finished": finished, "train_seconds": round(seconds, 1),
        "device": "cpu", "torch": torch.__version__, "weights_sha256": sha256_file(path),
    })
    (folder / f"{NAME}.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if finished:
        checkpoint.unlink(missing_ok=True)
    return manifest


def _checkpoint(path: Path, net: EncoderNet, optimiser: Any, schedule: Any, step: int, elapsed: float,
                checksum: str) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"tensors": net.state(), "optimiser": optimiser.state_dict(), "schedule": schedule.state_dict(),
                "rng": torch.get_rng_state(), "step": step, "elapsed": elapsed, "checksum": checksum}, tmp)
    tmp.replace(path)
