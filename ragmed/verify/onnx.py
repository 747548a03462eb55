"""The verifier's cross-encoder on ONNX Runtime: exported once from its weights, run in fp32 without PyTorch.

The export (``ragmed train verifier-onnx``) traces the sequence classifier with eager attention, fuses
attention and layer normalisation with ONNX Runtime's transformer optimiser, and writes beside the graph a
``<graph>.json`` naming the weights it came from. Opening a graph exported from other weights is an error, so
a retrained verifier never runs with a stale graph. Its logits equal PyTorch's within float tolerance.

Example:
    >>> export_verifier(PACKAGED, Path("indexes/.cache/verifier.onnx"))  # doctest: +SKIP
    >>> verifier = CrossEncoderVerifier(PACKAGED, onnx_path=Path("indexes/.cache/verifier.onnx"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ragmed.embedding.onnx_export import OPSET, export_key, optimise
from ragmed.errors import ConfigError, require

#: The graph's inputs, in the order the exported graph takes them.
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_verifier(folder: Path, graph: Path) -> Path:
    """Export the cross-encoder in ``folder`` to the ONNX file ``graph`` (written beside it, then renamed).

    Raises:
        ConfigError: ``folder`` is not a loadable sequence classifier.
        MissingDependencyError: onnx or onnxruntime is not installed (extra ``onnx``).
    """
    require("onnx", "onnx")
    require("onnxruntime", "onnx")
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            folder, dtype=torch.float32, attn_implementation="eager", local_files_only=True).eval()
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the verifier model in {folder}: {exc}") from exc
    sample = tokenizer(["a claim", "a second, longer claim"], ["an evidence window", "another one"], padding=True,
                       return_tensors="pt")
    names = [name for name in INPUTS if name in sample]

    class Logits(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, tensors, strict=True))).logits  # type: ignore[no-any-return]

    graph.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{graph.name}-", dir=graph.parent))
    try:
        axes = {name: {0: "batch", 1: "tokens"} for name in names}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shape checks that hold for every input
            torch.onnx.export(Logits(model), tuple(sample[n] for n in names), str(work / "model.onnx"),
                              input_names=names, output_names=["logits"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={**axes, "logits": {0: "batch"}})
        optimise(work / "model.onnx", model.config)
        meta = {"model": str(folder), "key": export_key(folder), "inputs": names, "opset": OPSET}
        _meta_path(graph).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        os.replace(work / "model.onnx", graph)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return graph


class OnnxLogits:
    """The exported cross-encoder: tokeniser features in, logits out.

    Args:
        graph: the exported ONNX file.
        folder: the model folder it must have been exported from.
        threads: CPU threads per run (0 = ONNX Runtime's default, every core).

    Raises:
        ConfigError: the graph is missing, or was exported from other weights than ``folder``'s.
        MissingDependencyError: onnxruntime is not installed (extra ``onnx``).
    """

    def __init__(self, graph: Path, folder: Path, threads: int = 0) -> None:
        ort = require("onnxruntime", "onnx")
        command = f"`ragmed train verifier-onnx {graph}`"
        if not exported(graph):
            raise ConfigError(f"verifier ONNX graph {graph} (or its {_meta_path(graph).name}) does not exist; export "
                              f"it with {command}, or set RAGMED_VERIFIER__RUNTIME=torch")
        meta = json.loads(_meta_path(graph).read_text(encoding="utf-8"))
        if meta.get("key") != export_key(folder):
            raise ConfigError(f"verifier ONNX graph {graph} was exported from other weights than those in {folder}; "
                              f"export it again with {command}")
        self._inputs = tuple(meta["inputs"])
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        # Idle threads sleep instead of spinning: a verifier scores a few small batches between other work, often on
        # cores shared with other processes, where spinning only takes time from them.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])

    def __call__(self, features: dict[str, np.ndarray]) -> np.ndarray:
        """Logits, one row per sequence, for padded tokeniser ``features``."""
        feeds = {name: np.asarray(features[name], dtype=np.int64) for name in self._inputs}
        return np.asarray(self._session.run(["logits"], feeds)[0], dtype=np.float32)


def exported(graph: Path) -> bool:
    """Whether ``graph`` and its metadata are both on disk."""
    return graph.is_file() and _meta_path(graph).is_file()


def _meta_path(graph: Path) -> Path:
    return graph.with_name(graph.name + ".json")
