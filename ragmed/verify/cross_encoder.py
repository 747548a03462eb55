"""Cross-encoder verifiers: ragmed's trained verifier, or any local sentence-transformers ``CrossEncoder``.

The evidence is read in windows of one or two sentences; the few windows sharing most words with the
claim are scored by the model, and the best one is the supporting span. A model folder with ragmed's
``manifest.json`` reads ``claim: ... | question: ...`` against ``title | window`` and has one logit; any
other model is read as natural language inference (premise = window, hypothesis = claim) and its
entailment probability is the support.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragmed.embedding.base import length_sorted_batches
from ragmed.errors import ConfigError
from ragmed.verify.base import ClaimPair, Verdict, claim_input, evidence_input, windows
from ragmed.verify.lexical import terms

logger = logging.getLogger(__name__)
#: Pairs per model run: batches of similar length pad little, and a CPU gains nothing from larger ones.
BATCH = 8


def _ranked_windows(text: str, query_terms: set[str], keep: int, width: int) -> list[tuple[int, int]]:
    """The ``keep`` windows of ``text`` sharing most content words with the query (shorter first on ties)."""
    return [span for span, _ in _ranked(text, query_terms, keep, width)]


def _ranked(text: str, query_terms: set[str], keep: int, width: int) -> list[tuple[tuple[int, int], set[str]]]:
    """``_ranked_windows``, each window with the query's content words it holds."""
    shared = [(s, query_terms & terms(text[s[0]:s[1]])) for s in windows(text, width)]
    return sorted(shared, key=lambda w: (-len(w[1]), w[0][1] - w[0][0], w[0][0]))[:keep]


class CrossEncoderVerifier:
    """A cross-encoder read over evidence windows.

    The windows of one call are tokenised once, identical pairs scored once, and the rest scored in small
    batches of similar length, so little compute goes to padding; a pair's score does not depend on what is
    scored beside it.

    Args:
        path: a local model folder.
        max_length: longest pair in word pieces.
        candidates: windows per pair scored by the model.
        width: sentences per window at most.
        quantize: int8 dynamic quantisation of the linear layers (faster on a CPU).
        threads: CPU threads while scoring (0 keeps the runtime's setting).
        onnx_path: run this ONNX export of the model on ONNX Runtime instead of PyTorch
            (``ragmed.verify.onnx``).
        sure: a window scoring at least this settles its pair: the pair's other windows are not scored
            (None scores them all).
        min_overlap: a window (with its document's title) holding less than this share of the claim's stemmed
            content words is not read by the model: its support is 0 (0 reads every window).

    Raises:
        ConfigError: the folder is missing or is not a loadable model, or the ONNX export is missing or stale.
    """

    name = "cross-encoder"

    def __init__(self, path: str | Path, *, max_length: int = 192, candidates: int = 2, width: int = 2,
                 quantize: bool = False, threads: int = 0, onnx_path: Path | None = None,
                 sure: float | None = None, min_overlap: float = 0.0) -> None:
        folder = Path(path)
        if not folder.is_dir():
            raise ConfigError(f"verifier model folder {folder} does not exist")
        if quantize and onnx_path is not None:
            raise ConfigError("verifier quantisation is for the PyTorch runtime; the ONNX export runs in fp32")
        import torch
        from sentence_transformers import CrossEncoder

        try:
            self._model = CrossEncoder(str(folder), local_files_only=True, max_length=max_length, device="cpu",
                                       model_kwargs={"dtype": torch.float32})
        except (OSError, ValueError, RuntimeError) as exc:
            raise ConfigError(f"cannot load the verifier model in {folder}: {exc}") from exc
        manifest = folder / "manifest.json"
        self.ragmed_format = manifest.exists() and "ragmed" in json.loads(manifest.read_text(encoding="utf-8")).get("name", "")
        labels = getattr(self._model.config, "id2label", {}) or {}
        self.num_labels = int(getattr(self._model.config, "num_labels", 1) or 1)
        self._entail = next((int(i) for i, name in labels.items() if "entail" in str(name).lower()), self.num_labels - 1)
        if quantize:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=DeprecationWarning)
                warnings.simplefilter("ignore", category=UserWarning)
                torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
                    self._model.model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
        self._onnx = None
        if onnx_path is not None:
            from ragmed.verify.onnx import OnnxLogits

            self._onnx = OnnxLogits(Path(onnx_path), folder, threads)
        self.runtime = "onnx" if self._onnx is not None else "torch"
        self.candidates, self.width, self.threads, self.max_length = candidates, width, threads, max_length
        self.sure, self.min_overlap = sure, min_overlap

    def _probabilities(self, inputs: list[tuple[str, str]]) -> np.ndarray:
        """The support probability of each (first, second) segment pair, in order."""
        if not inputs:
            return np.zeros(0)
        unique = list(dict.fromkeys(inputs))
        tokenizer = self._model.tokenizer
        encoded = tokenizer([a for a, _ in unique], [b for _, b in unique], truncation="longest_first",
                            max_length=self.max_length)
        logits = np.zeros((len(unique), self.num_labels), dtype=np.float32)
        for batch in length_sorted_batches(encoded["input_ids"], BATCH):
            features = tokenizer.pad({k: [v[i] for i in batch] for k, v in encoded.items()}, return_tensors="np")
            logits[batch] = self._onnx(features) if self._onnx is not None else self._torch_logits(features)
        if self.num_labels == 1:
            probs = 1.0 / (1.0 + np.exp(-logits[:, 0].astype(np.float64)))
        else:
            shifted = np.exp(logits.astype(np.float64) - logits.max(axis=1, keepdims=True))
            probs = (shifted / shifted.sum(axis=1, keepdims=True))[:, self._entail]
        row = {pair: i for i, pair in enumerate(unique)}
        return probs[[row[pair] for pair in inputs]]

    def _torch_logits(self, features: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        previous = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                out = self._model.model(**{k: torch.from_numpy(np.asarray(v, dtype=np.int64)) for k, v in features.items()})
            return out.logits.float().numpy()  # type: ignore[no-any-return]
        finally:
            if self.threads:
                torch.set_num_threads(previous)

    def _scored(self, texts: Sequence[str], query_terms: Sequence[set[str]], build: Any,
                context_terms: Sequence[set[str]] | None = None) -> list[Verdict]:
        ranked = [_ranked(text, q, self.candidates, self.width) for text, q in zip(texts, query_terms)]
        spans = [[span for span, _ in r] for r in ranked]
        scores: list[list[float]] = [[] for _ in spans]
        # The window sharing most words with the claim first; the others only for pairs it did not settle.
        for rank in range(max((len(ws) for ws in spans), default=0)):
            todo = [i for i, ws in enumerate(spans) if rank < len(ws)
                    and (rank == 0 or self.sure is None or max(scores[i]) < self.sure)]
            read = [i for i in todo if self._worth_reading(ranked[i][rank][1], query_terms[i],
                                                           context_terms[i] if context_terms else set())]
            probs = self._probabilities([build(i, texts[i][spans[i][rank][0]:spans[i][rank][1]]) for i in read])
            found = dict(zip(read, probs))
            for i in todo:
                scores[i].append(float(found.get(i, 0.0)))
        out = []
        for ws, part in zip(spans, scores):
            if not part:
                out.append(Verdict(0.0, 0, 0))
                continue
            # The narrowest window nearly as convincing as the best is the span shown to readers.
            top = max(part)
            best = min((j for j in range(len(part)) if part[j] >= 0.9 * top), key=lambda j: (ws[j][1] - ws[j][0], -part[j]))
            out.append(Verdict(part[best], ws[best][0], ws[best][1]))
        return out

    def _worth_reading(self, in_window: set[str], claim_terms: set[str], context: set[str]) -> bool:
        """Whether the window (its claim words ``in_window``) and its title (``context``) share enough of the
        claim's content words for the model to read it."""
        if self.min_overlap <= 0 or not claim_terms:
            return True
        return len(in_window | (claim_terms & context)) >= self.min_overlap * len(claim_terms)

    def support(self, pairs: Sequence[ClaimPair]) -> list[Verdict]:
        """The best window's support probability for each pair."""
        def build(i: int, window: str) -> tuple[str, str]:
            p = pairs[i]
            if self.ragmed_format:
                return claim_input(p.claim, p.question), evidence_input(p.title, window)
            return window, p.claim

        return self._scored([p.evidence for p in pairs], [terms(p.claim) for p in pairs], build,
                            [terms(p.title) for p in pairs])
