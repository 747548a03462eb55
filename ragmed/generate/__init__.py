"""Answer generation: grounded prompts, generator backends, the extractive answer and the answerer.

Backends (one module each, chosen by ``factory.make_generator`` from ``settings.generation.backend``):
``llamacpp`` (GGUF through llama-cpp-python; Gemma 3 270M by default), ``hf`` (a local transformers causal
LM), ``openai_http`` (an OpenAI-compatible server) and ``extractive`` (no model). ``answer.Answerer`` ties
prompt, generator, citation check (``ragmed.cite``) and safety (``ragmed.safety``) together.
"""

from ragmed.generate.answer import Answerer
from ragmed.generate.base import Generator
from ragmed.generate.extractive import ExtractiveAnswerer
from ragmed.generate.factory import make_generator

__all__ = ["Answerer", "ExtractiveAnswerer", "Generator", "make_generator"]
