"""transformers backend: any local Hugging Face causal LM (GPT-2 family and others), on CUDA when present."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ragmed.errors import GenerationError, require
from ragmed.generate.base import FLOOR, stream_with_stops


class TransformersGenerator:
    """Generate with a causal LM loaded from a local folder (no hub access).

    Args:
        model_path: folder with ``config.json``, weights and tokenizer files.
        device: torch device; CUDA when available, else CPU, when None.
        temperature: 0 for greedy decoding.
        seed: sampling seed.

    Raises:
        GenerationError: the folder is missing or holds no loadable model.

    Example:
        >>> gen = TransformersGenerator("models/gpt2")  # doctest: +SKIP
        >>> gen.score_options("The sky is", [" blue", " green"])  # doctest: +SKIP
    """

    name = "transformers"

    def __init__(self, model_path: Path | str, *, device: str | None = None, temperature: float = 0.0, seed: int = 0) -> None:
        torch = require("torch")
        transformers = require("transformers")
        path = Path(model_path)
        if not (path / "config.json").is_file():
            raise GenerationError(f"no Hugging Face model (config.json) in {path}")
        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self.model = transformers.AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True).to(self.device)
        except (OSError, ValueError) as exc:
            raise GenerationError(f"cannot load transformers model from {path}: {exc}") from exc
        self.model.eval()
        self.temperature = temperature
        self.seed = seed
        self.name = f"transformers:{path.name}"
        limit = getattr(self.model.config, "max_position_embeddings", None) or getattr(self.model.config, "n_positions", None)
        self.n_ctx = int(limit or 2048)

    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` with this model's tokenizer."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _inputs(self, prompt: str, max_new_tokens: int) -> Any:
        ids = self.tokenizer(prompt, return_tensors="pt")["input_ids"]
        room = self.n_ctx - max_new_tokens
        if room <= 0:
            raise GenerationError(f"max_new_tokens {max_new_tokens} leaves no room in a context of {self.n_ctx}")
        return ids[:, -room:].to(self.device)

    def stream(self, prompt: str, *, max_new_tokens: int, stop: list[str] | None = None) -> Iterator[str]:
        """See ``Generator.stream`` (tokens come from a ``TextIteratorStreamer``)."""
        if max_new_tokens <= 0:
            raise ValueError(f"max_new_tokens must be greater than 0, got {max_new_tokens}")
        transformers = require("transformers")
        ids = self._inputs(prompt, max_new_tokens)
        streamer = transformers.TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
        halt = threading.Event()

        class _Halt(transformers.StoppingCriteria):  # type: ignore[name-defined,misc]
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return halt.is_set()

        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        kwargs = dict(input_ids=ids, attention_mask=self._torch.ones_like(ids), max_new_tokens=max_new_tokens,
                      streamer=streamer, pad_token_id=pad, stopping_criteria=transformers.StoppingCriteriaList([_Halt()]),
                      do_sample=self.temperature > 0, **({"temperature": self.temperature} if self.temperature > 0 else {}))
        errors: list[BaseException] = []

        def run() -> None:
            self._torch.manual_seed(self.seed)
            try:
                with self._torch.no_grad():
                    self.model.generate(**kwargs)
            except (RuntimeError, ValueError) as exc:
                errors.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        try:
            yield from stream_with_stops(iter(streamer), stop)
        finally:
            halt.set()
            worker.join()
        if errors:
            raise GenerationError(f"transformers generation failed: {errors[0]}") from errors[0]

    def generate(self, prompt: str, *, max_new_tokens: int, stop: list[str] | None = None) -> str:
        """See ``Generator.generate``."""
        return "".join(self.stream(prompt, max_new_tokens=max_new_tokens, stop=stop))

    def next_token_logprobs(self, prompt: str, top: int = 20) -> list[tuple[str, float]]:
        """The ``top`` likeliest next tokens after ``prompt`` with their log-probabilities, best first."""
        ids = self._inputs(prompt, 1)
        with self._torch.no_grad():
            logp = self._torch.log_softmax(self.model(ids).logits[0, -1].float(), dim=-1)
        values, index = self._torch.topk(logp, min(top, logp.shape[0]))
        return [(self.tokenizer.decode([int(i)]), float(v)) for v, i in zip(values, index)]

    def score_options(self, prompt: str, options: list[str]) -> list[float]:
        """Sum of token log-probabilities of each option after ``prompt``, from one forward pass each."""
        if not options:
            raise ValueError("options must not be empty")
        torch = self._torch
        base = self.tokenizer(prompt)["input_ids"]
        scores = []
        for option in options:
            full = self.tokenizer(prompt + option)["input_ids"]
            split = len(base) if full[: len(base)] == base else len(base) - 1
            if len(full) <= split or split < 1:
                scores.append(FLOOR)
                continue
            keep = full[-self.n_ctx:]
            split -= len(full) - len(keep)
            ids = torch.tensor([keep], device=self.device)
            with torch.no_grad():
                logprobs = torch.log_softmax(self.model(ids).logits[0].float(), dim=-1)
            targets = ids[0, max(split, 1):]
            rows = logprobs[max(split, 1) - 1: len(keep) - 1]
            scores.append(float(rows.gather(1, targets[:, None]).sum()))
        return scores
