"""The triage's fine-tuned classifier on ONNX Runtime: exported once from the stored weights, run in fp32.

The whole classifier (MiniLM with the trained top layers, mean pooling, both heads and their softmax) is traced
with eager attention and fused by ONNX Runtime's transformer optimiser, into
``<cache>/onnx/triage-encoder-<weights checksum>/model.onnx``; new weights get a new folder, so a stale graph is
never run. Probabilities equal PyTorch's within float tolerance; on two CPU cores it runs in about half the time.

Example:
    >>> scorer = OnnxScorer.load(TriageEncoder.load(WEIGHTS), Path("indexes/.cache"))  # doctest: +SKIP
    >>> emergency, personal = scorer.probabilities(["my chest feels crushed"])  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragmed.embedding.onnx_export import OPSET, optimise
from ragmed.errors import require

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_encoder(net: Any, graph: Path) -> None:
    """Trace ``net`` (an ``EncoderNet`` with its trained tensors in place) to the ONNX file ``graph``."""
    require("onnx", "onnx")
    import torch

    net.encoder.set_attn_implementation("eager")  # the attention pattern ONNX Runtime's optimiser fuses

    class Classifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder, self.heads = net.encoder, net.heads

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            emergency, personal = net.logits({"input_ids": input_ids, "attention_mask": attention_mask,
                                              "token_type_ids": token_type_ids})
            return torch.softmax(emergency, -1), torch.softmax(personal, -1)

    sample = net.encode(["a short question", "a second, somewhat longer question about a medicine"])
    graph.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{graph.parent.name}-", dir=graph.parent.parent))
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shape checks that hold for every input
            torch.onnx.export(Classifier().eval(), tuple(sample[n] for n in INPUTS), str(work / graph.name),
                              input_names=list(INPUTS), output_names=["emergency", "personal"], opset_version=OPSET,
                              dynamo=False, dynamic_axes={n: {0: "batch", 1: "tokens"} for n in INPUTS})
        optimise(work / graph.name, net.encoder.config)
        os.replace(work / graph.name, graph)
    finally:
        shutil.rmtree(work, ignore_errors=True)


class OnnxScorer:
    """Both heads' probabilities from the exported graph.

    Args:
        net: the ``EncoderNet`` (for its tokeniser).
        graph: the exported ``model.onnx``.
        threads: ONNX Runtime intra-op threads (0: its default).
    """

    def __init__(self, net: Any, graph: Path, threads: int = 0) -> None:
        ort = require("onnxruntime", "onnx")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        # Threads spin between the graph's operators (a few milliseconds per question, where waking sleeping
        # threads costs a tenth of it) and stop when the run returns: the engine's next stages (search,
        # generation) need the same cores.
        options.add_session_config_entry("session.force_spinning_stop", "1")
        from tokenizers import Tokenizer

        self.net = net
        self.tokenizer = Tokenizer.from_str(net.tokenizer.backend_tokenizer.to_str())
        self.tokenizer.enable_truncation(max_length=net.max_length)
        self.tokenizer.enable_padding(pad_id=net.tokenizer.pad_token_id, pad_token=net.tokenizer.pad_token)
        self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])

    @classmethod
    def load(cls, net: Any, weights_sha256: str, cache_dir: Path, threads: int = 0) -> OnnxScorer:
        """The scorer for ``net``, exporting it into ``cache_dir`` first when no export of these weights exists."""
        graph = Path(cache_dir) / "onnx" / f"triage-encoder-{weights_sha256[:16]}" / "model.onnx"
        if not graph.exists():
            export_encoder(net, graph)
        return cls(net, graph, threads)

    def probabilities(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Both heads' class probabilities for each text."""
        encodings = self.tokenizer.encode_batch(list(texts))
        feeds = {"input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
                 "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
                 "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64)}
        emergency, personal = self.session.run(None, feeds)
        return np.asarray(emergency), np.asarray(personal)
