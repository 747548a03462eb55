"""Multiple-choice and yes/no/maybe answering by option scoring."""

from __future__ import annotations

from ragmed.cite import CitationChecker
from ragmed.generate.base import Generator
from ragmed.generate.prompt import choice_prompt
from ragmed.types import Passage


def choose_option(question: str, options: dict[str, str], passages: list[Passage], generator: Generator | None,
                  checker: CitationChecker, *, context_tokens: int) -> tuple[str, dict[str, float]]:
    """Score every option and return the best key with all scores (ties go to the first option).

    With a generator, each option is scored by the model (log-likelihood for llama.cpp and transformers,
    constrained choice for HTTP backends) after a prompt holding the evidence and the question. Without
    one, each option's text is scored by how well the evidence supports "question + option"; this cannot
    tell yes from no and is only a baseline.
    """
    keys = list(options)
    if generator is None:
        values = [max((v.probability for v in checker.support(f"{question} {options[k]}", passages)), default=0.0)
                  for k in keys]
    else:
        prompt, continuations = choice_prompt(question, options, passages, context_tokens=context_tokens,
                                              count_tokens=getattr(generator, "count_tokens", None))
        values = generator.score_options(prompt, continuations)
    scores = {k: float(v) for k, v in zip(keys, values)}
    best = max(keys, key=lambda k: (scores[k], -keys.index(k)))
    return best, scores
