"""Choose the generator backend named in ``settings.generation``."""

from __future__ import annotations

from ragmed.config import GenerationSettings
from ragmed.errors import ConfigError
from ragmed.generate.base import Generator


def make_generator(settings: GenerationSettings) -> Generator | None:
    """Build the configured generator; None means the extractive answer (no model).

    Args:
        settings: the ``generation`` section of the settings.

    Raises:
        ConfigError: a backend is missing a setting it needs (model folder, server URL).
        MissingDependencyError: the backend's optional dependency is not installed.
        GenerationError: the model cannot be loaded.
    """
    backend = settings.backend
    if backend == "extractive":
        return None
    if backend == "llamacpp":
        from ragmed.generate.llamacpp import LlamaCppGenerator

        return LlamaCppGenerator(settings.model_path, n_ctx=settings.context_tokens, n_threads=settings.n_threads,
                                 temperature=settings.temperature, seed=settings.seed)
    if backend == "transformers":
        if settings.model_path is None:
            raise ConfigError("generation.backend 'transformers' needs generation.model_path (a local model folder)")
        from ragmed.generate.hf import TransformersGenerator

        return TransformersGenerator(settings.model_path, temperature=settings.temperature, seed=settings.seed)
    if backend == "openai":
        if not settings.openai_base_url:
            raise ConfigError("generation.backend 'openai' needs generation.openai_base_url (e.g. http://127.0.0.1:8080)")
        from ragmed.generate.openai_http import OpenAIGenerator

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAIGenerator(settings.openai_base_url, model=settings.openai_model, api_key=key,
                               timeout_s=settings.timeout_s, retries=settings.retries, temperature=settings.temperature)
    raise ConfigError(f"unknown generation.backend {backend!r}; use extractive, llamacpp, transformers or openai")
