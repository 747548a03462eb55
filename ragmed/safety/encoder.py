"""A fine-tuned transformer that reads the question itself: the triage's second classifier.

The model is the embedding model's own MiniLM with its lower layers as they are and its top layers fine-tuned,
with two softmax heads (emergency category, personal-request kind) over the mean of its token states. Only
what training changed is stored (``triage_encoder.safetensors``: the top layers and the heads, float16, a few
MB) beside a manifest; the rest comes from the installed MiniLM. ``SemanticTriage`` blends its probabilities
with the linear classifiers'.

Example:
    >>> encoder = TriageEncoder.load(WEIGHTS)  # doctest: +SKIP
    >>> emergency, personal = encoder("my toddler swallowed some of nan's pills")  # doctest: +SKIP
    >>> max(emergency, key=emergency.get)  # doctest: +SKIP
    'overdose_poisoning'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragmed.errors import ConfigError
from ragmed.hashing import sha256_file

NAME = "triage_encoder"
"""File stem of the stored weights and manifest."""
MAX_LENGTH = 64
"""Longest question read, in word pieces."""


class EncoderNet:
    """MiniLM split at ``split`` into a frozen bottom and a trained top, with the two heads.

    Args:
        base: folder of the base model (the installed MiniLM).
        top_layers: how many of the last transformer layers are trained.
        layers: keep only the first this many of the base model's layers (a smaller, faster model); all when None.
        emergency_classes: emergency head's classes, ``none`` last.
        personal_classes: personal head's classes, ``none`` last.
    """

    def __init__(self, base: str, top_layers: int, emergency_classes: Sequence[str],
                 personal_classes: Sequence[str], layers: int | None = None) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
        self.max_length = MAX_LENGTH
        self.encoder = AutoModel.from_pretrained(base, local_files_only=True, dtype=torch.float32)
        if layers is not None:
            if not 1 <= layers <= len(self.encoder.encoder.layer):
                raise ConfigError(f"layers must be between 1 and {len(self.encoder.encoder.layer)}, got {layers}")
            self.encoder.encoder.layer = self.encoder.encoder.layer[:layers]
            self.encoder.config.num_hidden_layers = layers
        layers = len(self.encoder.encoder.layer)
        if not 1 <= top_layers <= layers:
            raise ConfigError(f"top_layers must be between 1 and {layers}, got {top_layers}")
        self.split = layers - top_layers
        width = int(self.encoder.config.hidden_size)
        self.emergency_classes, self.personal_classes = list(emergency_classes), list(personal_classes)
        self.heads = torch.nn.ModuleDict({"emergency": torch.nn.Linear(width, len(self.emergency_classes)),
                                          "personal": torch.nn.Linear(width, len(self.personal_classes))})
        self.dropout = torch.nn.Dropout(0.1)

    def trained_modules(self) -> dict[str, Any]:
        """The modules training changes, by the prefix their tensors are stored under."""
        out: dict[str, Any] = {f"layer.{i}": self.encoder.encoder.layer[i]
                               for i in range(self.split, len(self.encoder.encoder.layer))}
        out["heads"] = self.heads
        return out

    def state(self) -> dict[str, Any]:
        """The trained tensors, flat, by stored name."""
        return {f"{prefix}.{name}": tensor for prefix, module in self.trained_modules().items()
                for name, tensor in module.state_dict().items()}

    def load_state(self, tensors: dict[str, Any]) -> None:
        """Put stored tensors in place (float32)."""
        for prefix, module in self.trained_modules().items():
            own = {name[len(prefix) + 1:]: t.float() for name, t in tensors.items() if name.startswith(prefix + ".")}
            module.load_state_dict(own)

    def encode(self, texts: Sequence[str]) -> Any:
        return self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                              return_tensors="pt")

    def bottom(self, encoded: Any) -> tuple[Any, Any]:
        """Token states after the frozen layers, and the attention mask in the layers' own form."""
        model = self.encoder
        hidden = model.embeddings(input_ids=encoded["input_ids"], token_type_ids=encoded.get("token_type_ids"))
        mask = model._create_attention_masks(attention_mask=encoded["attention_mask"], encoder_attention_mask=None,
                                             embedding_output=hidden, encoder_hidden_states=None, cache=None)[0]
        for layer in model.encoder.layer[: self.split]:
            hidden = _first(layer(hidden, attention_mask=mask))
        return hidden, mask

    def top(self, hidden: Any, mask: Any, attention: Any, train: bool = False) -> tuple[Any, Any]:
        """Both heads' logits from the frozen layers' output (training runs the frozen layers once, without
        gradients)."""
        for layer in self.encoder.encoder.layer[self.split:]:
            hidden = _first(layer(hidden, attention_mask=mask))
        return self.classify(hidden, attention, train)

    def classify(self, hidden: Any, attention: Any, train: bool = False) -> tuple[Any, Any]:
        """Both heads' logits over the mean of the last layer's token states (padding left out)."""
        weights = attention.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1)
        if train:
            pooled = self.dropout(pooled)
        return self.heads["emergency"](pooled), self.heads["personal"](pooled)

    def logits(self, encoded: Any) -> tuple[Any, Any]:
        """Both heads' logits for tokenised input, through the model's own forward pass."""
        hidden = self.encoder(**encoded).last_hidden_state
        return self.classify(hidden, encoded["attention_mask"])


def _first(output: Any) -> Any:
    return output[0] if isinstance(output, tuple) else output


def base_model_path(manifest: dict[str, Any]) -> str:
    """The local folder of the base model the manifest names."""
    from ragmed.embedding import resolve_model_path

    return resolve_model_path(str(manifest["base_model"]))


class TriageEncoder:
    """The stored fine-tuned classifier, ready to score questions.

    Args:
        net: the model with its trained tensors in place.
        manifest: the stored manifest.
    """

    def __init__(self, net: EncoderNet, manifest: dict[str, Any]) -> None:
        net.encoder.eval()
        self.net, self.manifest = net, manifest
        self.runtime = "torch"
        self._onnx: Any = None

    def use_onnx(self, cache_dir: Path, threads: int = 0) -> None:
        """Run on ONNX Runtime from now on (the graph is exported into ``cache_dir`` once per weights).

        Raises:
            MissingDependencyError: onnx or onnxruntime is not installed (extra ``onnx``).
        """
        from ragmed.safety.encoder_onnx import OnnxScorer

        self._onnx = OnnxScorer.load(self.net, str(self.manifest["weights_sha256"]), cache_dir, threads)
        self.runtime = "onnx"

    @classmethod
    def load(cls, folder: Path) -> TriageEncoder:
        """Load ``triage_encoder.safetensors`` and its manifest from ``folder``.

        Raises:
            ConfigError: a file is missing or unreadable, or the tensors do not match the manifest's checksum.
        """
        from safetensors.torch import load_file

        path, meta = folder / f"{NAME}.safetensors", folder / f"{NAME}.json"
        try:
            manifest = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {meta} (run `ragmed train triage`): {exc}") from exc
        if not path.exists() or sha256_file(path) != manifest.get("weights_sha256"):
            raise ConfigError(f"{path} is missing or does not match the checksum in {meta}; "
                              "retrain with `ragmed train triage`")
        net = EncoderNet(base_model_path(manifest), int(manifest["top_layers"]), manifest["emergency_classes"],
                         manifest["personal_classes"], manifest.get("layers"))
        net.load_state(load_file(str(path)))
        return cls(net, manifest)

    def probabilities(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Both heads' class probabilities for each text (rows in ``texts`` order)."""
        if self._onnx is not None:
            return self._onnx.probabilities(texts)  # type: ignore[no-any-return]
        import torch

        with torch.inference_mode():
            emergency, personal = self.net.logits(self.net.encode(texts))
            return torch.softmax(emergency, -1).numpy(), torch.softmax(personal, -1).numpy()

    def __call__(self, question: str) -> tuple[dict[str, float], dict[str, float]]:
        """Each emergency category's and each personal kind's probability for ``question``."""
        emergency, personal = self.probabilities([question])
        return (dict(zip(self.net.emergency_classes, map(float, emergency[0]), strict=True)),
                dict(zip(self.net.personal_classes, map(float, personal[0]), strict=True)))
