"""Export a sentence-transformers model to ONNX once, optionally quantised to int8, cached by model and options.

The exported graph takes the tokeniser's outputs and returns the model's normalised sentence embedding (the
transformer, its pooling and normalisation in one graph), so the ONNX backend needs no PyTorch at run time
once the export is cached. The model is traced with eager attention, and ONNX Runtime's transformer optimiser
fuses attention, embedding and layer normalisation where it knows the architecture (BERT and its kin). The cache
folder is ``<cache>/onnx/<model>-<key>/`` where the key hashes the model's files and the export options: a
changed model or option gives a new export, never a stale one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragmed.config import EmbeddingSettings
from ragmed.embedding.base import model_name, resolve_model_path
from ragmed.errors import ConfigError, require
from ragmed.hashing import sha256_bytes

#: Bumped when the export recipe changes, so that older exports are not reused.
EXPORT_VERSION = 2
OPSET = 17
FP32, INT8 = "model.onnx", "model-int8.onnx"


@dataclass(frozen=True)
class OnnxExport:
    """An exported model: its folder, the graph to load, its inputs and its tokeniser settings."""

    folder: Path
    graph: Path
    inputs: tuple[str, ...]
    dimension: int
    max_length: int


def export_key(model_path: Path) -> str:
    """A hash of the model's files (names, sizes, configuration contents) and of the export recipe; the int8
    graph is derived from the fp32 one and lies beside it."""
    parts = [json.dumps({"version": EXPORT_VERSION, "opset": OPSET}).encode()]
    for path in sorted(p for p in model_path.rglob("*") if p.is_file()):
        parts.append(f"{path.relative_to(model_path)}:{path.stat().st_size}".encode())
        if path.suffix in (".json", ".txt"):
            parts.append(path.read_bytes())
    return sha256_bytes(b"".join(parts))[:16]


def ensure_export(settings: EmbeddingSettings, cache_dir: Path) -> OnnxExport:
    """The cached export of ``settings.model`` (exporting and quantising it first when missing).

    Raises:
        ConfigError: the model folder does not exist.
        MissingDependencyError: onnx or onnxruntime is not installed (extra ``onnx``).
    """
    require("onnxruntime", "onnx")
    model_path = Path(resolve_model_path(settings.model))
    if not model_path.is_dir():
        raise ConfigError(f"embedding model folder not found: {model_path} (settings.embedding.model)")
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_name(settings.model))
    folder = Path(cache_dir) / "onnx" / f"{slug}-{export_key(model_path)}"
    if not (folder / "meta.json").exists():
        _export(model_path, folder)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    graph = folder / FP32
    if settings.quantize:
        graph = folder / INT8
        if not graph.exists():
            _quantize(folder / FP32, graph)
    return OnnxExport(folder, graph, tuple(meta["inputs"]), int(meta["dimension"]), int(meta["max_length"]))


def _export(model_path: Path, folder: Path) -> None:
    """Trace the whole sentence-transformers pipeline into ``folder`` (written beside it, then renamed)."""
    require("onnx", "onnx")
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True,
                                model_kwargs={"attn_implementation": "eager"}).eval()
    sample = model.preprocess(["a short example sentence", "a second, somewhat longer example of a passage"])
    names = [key for key, value in sample.items() if isinstance(value, torch.Tensor)]

    class Pipeline(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            features: dict[str, Any] = dict(zip(names, tensors, strict=True))
            return self.inner(features)["sentence_embedding"]  # type: ignore[no-any-return]

    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        axes = {name: {0: "batch", 1: "tokens"} for name in names}
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shape checks that hold for every input
            torch.onnx.export(Pipeline(model), tuple(sample[n] for n in names), str(work / FP32), input_names=names,
                              output_names=["sentence_embedding"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={**axes, "sentence_embedding": {0: "batch"}})
        optimise(work / FP32, getattr(getattr(model[0], "auto_model", None), "config", None))
        model.tokenizer.save_pretrained(str(work / "tokenizer"))
        dimension, max_length = model.get_embedding_dimension(), model.max_seq_length
        if dimension is None or max_length is None:
            raise ConfigError(f"embedding model {model_path} does not declare its dimension and maximum length")
        meta = {"model": str(model_path), "inputs": names, "dimension": int(dimension), "max_length": int(max_length),
                "version": EXPORT_VERSION, "opset": OPSET}
        (work / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        try:
            os.replace(work, folder)
        except OSError:
            if not (folder / "meta.json").exists():  # not another process's finished export
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def optimise(graph: Path, config: Any) -> None:
    """Fuse attention, embedding and layer normalisation in place, for architectures ONNX Runtime's transformer
    optimiser knows (``config`` is the transformer's Hugging Face configuration); other graphs are left as
    exported (ONNX Runtime still applies its generic fusions)."""
    from onnxruntime.transformers import optimizer

    kind = getattr(config, "model_type", None)
    if config is None or kind not in optimizer.MODEL_TYPES:
        return
    fused = optimizer.optimize_model(str(graph), model_type=kind, num_heads=int(config.num_attention_heads),
                                     hidden_size=int(config.hidden_size))
    fused.save_model_to_file(str(graph))


def _quantize(source: Path, target: Path) -> None:
    """int8 dynamic quantisation of the weights of every MatMul with constant weights: signed 7-bit range
    per output channel, which keeps int16 accumulation from saturating on CPUs without VNNI."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    handle, name = tempfile.mkstemp(prefix=f".{target.name}-", suffix=".onnx", dir=target.parent)
    os.close(handle)
    try:
        quantize_dynamic(str(source), name, weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
                         extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT})
        os.replace(name, target)
    finally:
        if os.path.exists(name):
            os.unlink(name)
