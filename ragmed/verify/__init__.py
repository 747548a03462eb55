"""Verifiers: the probability that evidence states a claim, and where (see ``ragmed.verify.base``).

Backends, chosen by ``settings.verifier.backend``:

- ``trained`` (default): the cross-encoder ragmed trains from the bundled MiniLM weights and ships.
- ``cross-encoder``: any local sentence-transformers ``CrossEncoder`` (an NLI or fact-checking model).
- ``lexical``: shared words, numbers, negation and embedding similarity; no model needed.

The cross-encoders run on PyTorch, or on ONNX Runtime (``settings.verifier.runtime``, ``ragmed.verify.onnx``).
"""

from __future__ import annotations

import logging

from ragmed.config import VerifierSettings
from ragmed.errors import ConfigError
from ragmed.verify.base import ClaimPair, Verdict, Verifier, windows
from ragmed.verify.lexical import Encoder, LexicalVerifier

logger = logging.getLogger(__name__)

__all__ = ["ClaimPair", "Verdict", "Verifier", "make_verifier", "windows"]


def make_verifier(settings: VerifierSettings, embedder: Encoder | None = None) -> Verifier:
    """The verifier the settings name.

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
                                    onnx_path=settings.onnx_path if settings.runtime == "onnx" else None,
                                    sure=settings.sure)
    except ConfigError as exc:
        if not settings.lexical_fallback:
            raise
        logger.warning("verifier unavailable, using the lexical scorer as settings allow", extra={"error": str(exc)})
        return lexical
