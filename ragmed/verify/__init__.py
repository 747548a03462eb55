"""Verifiers: the probability that evidence states a claim, and where (see ``ragmed.verify.base``).

Backends, chosen by ``settings.verifier.backend``:

- ``trained`` (default): the cross-encoder ragmed trains from the bundled MiniLM weights and ships.
- ``cross-encoder``: any local sentence-transformers ``CrossEncoder`` (an NLI or fact-checking model).
- ``lexical``: shared words, numbers, negation and embedding similarity; no model needed.

The cross-encoders run on ONNX Runtime when it is installed (an export made once into the embedding cache), else on
PyTorch (``settings.verifier.runtime``, ``ragmed.verify.onnx``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from ragmed.config import VerifierSettings
from ragmed.errors import ConfigError, installed
from ragmed.verify.base import ClaimPair, Verdict, Verifier, windows
from ragmed.verify.lexical import Encoder, LexicalVerifier

logger = logging.getLogger(__name__)

__all__ = ["ClaimPair", "Verdict", "Verifier", "make_verifier", "windows"]


def make_verifier(settings: VerifierSettings, embedder: Encoder | None = None, cache_dir: Path | None = None) -> Verifier:
    """The verifier the settings name.

    Args:
        settings: the verifier section.
        embedder: the loaded sentence embedder (the lexical scorer's similarity), or None.
        cache_dir: where runtime ``auto`` keeps its ONNX export (``<default index root>/.cache`` when None).

    Raises:
        ConfigError: the model cannot be loaded, or its weights are missing or damaged, and
            ``settings.lexical_fallback`` is off.
    """
    lexical = LexicalVerifier(embedder, threshold=settings.lexical_threshold)
    if settings.backend == "lexical":
        return lexical
    from ragmed.verify.cross_encoder import CrossEncoderVerifier
    from ragmed.verify.trained import PACKAGED, verify_weights

    try:
        if settings.backend == "trained":
            folder = settings.model_path or PACKAGED
            verify_weights(folder)
        elif settings.model_path is None:
            raise ConfigError("verifier.backend 'cross-encoder' needs verifier.model_path (a local CrossEncoder folder)")
        else:
            folder = settings.model_path
        return CrossEncoderVerifier(folder, max_length=settings.max_length, candidates=settings.candidates,
                                    quantize=settings.quantize, threads=settings.threads,
                                    onnx_path=_onnx_graph(settings, folder, cache_dir),
                                    sure=settings.sure, min_overlap=settings.min_overlap)
    except ConfigError as exc:
        if not settings.lexical_fallback:
            raise
        logger.warning("verifier unavailable, using the lexical scorer as settings allow", extra={"error": str(exc)})
        return lexical


def _onnx_graph(settings: VerifierSettings, folder: Path, cache_dir: Path | None) -> Path | None:
    """The ONNX export the cross-encoder runs on, or None for PyTorch; ``auto`` exports the model into the cache
    once (a folder per export key, so new weights get a new export)."""
    if settings.runtime == "torch" or (settings.runtime == "auto" and (settings.quantize or not installed("onnxruntime", "onnx"))):
        return None
    if settings.onnx_path is not None:
        return settings.onnx_path
    from ragmed.config import default_index_root
    from ragmed.embedding.onnx_export import export_key
    from ragmed.verify.onnx import export_verifier, exported

    graph = Path(cache_dir or default_index_root() / ".cache") / "onnx" / f"verifier-{export_key(folder)}" / "model.onnx"
    if not exported(graph):
        export_verifier(folder, graph)
    return graph
