"""The run manifest: everything needed to reproduce a run and to tell two runs apart."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ragmed.config import PROJECT_ROOT, Settings
from ragmed.errors import ConfigError
from ragmed.hashing import sha256_file, sha256_text, sha256_tree
from ragmed.version import ragmed_version

MANIFEST = "manifest.json"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".onnx", ".json", ".txt", ".model")


def settings_dump(settings: Settings) -> dict[str, Any]:
    """The settings as JSON data with every secret (API keys) left out."""
    return settings.model_dump(mode="json", exclude={"generation": {"openai_api_key"}, "api": {"api_keys"}})


def model_checksum(path: Path | None) -> str | None:
    """SHA-256 of a model file, or of a model folder's weight and tokenizer files; None when absent."""
    if path is None or not path.exists():
        return None
    return sha256_tree(path, lambda p: p.suffix in _WEIGHT_SUFFIXES)


def git_commit(root: Path = PROJECT_ROOT) -> str | None:
    """The checked-out commit of ``root`` (with ``+dirty`` when files changed), or None outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], check=False, cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], check=False, cwd=root,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def models_info(settings: Settings, backend: str | None) -> dict[str, Any]:
    """Ids, paths and checksums of the embedding model and the generator a run uses."""
    from ragmed.embedding import resolve_model_path

    embed_path = Path(resolve_model_path(settings.embedding.model))
    info: dict[str, Any] = {"embedding": {"id": settings.embedding.model, "path": str(embed_path),
                                          "sha256": model_checksum(embed_path)}}
    if backend is None:
        return info
    generation = settings.generation
    generator: dict[str, Any] = {"backend": backend}
    if backend == "llamacpp":
        from ragmed.generate.llamacpp import default_model_path

        path = Path(generation.model_path) if generation.model_path else default_model_path()
        generator.update(id=path.name, path=str(path), sha256=model_checksum(path))
    elif backend == "transformers" and generation.model_path:
        path = Path(generation.model_path)
        generator.update(id=path.name, path=str(path), sha256=model_checksum(path))
    elif backend == "openai":
        generator.update(id=generation.openai_model, base_url=generation.openai_base_url)
    info["generator"] = generator
    return info


def index_info(engine: Any) -> dict[str, Any]:
    """Name, revision, counts and the manifest checksum of the engine's index."""
    info = engine.info()
    manifest = Path(str(info.get("path", ""))) / "manifest.json"
    return {"name": info.get("name"), "path": info.get("path"), "revision": info.get("revision"),
            "counts": info.get("counts"), "embedding_model": info.get("embedding_model"),
            "manifest_sha256": sha256_file(manifest) if manifest.is_file() else None}


def environment() -> dict[str, Any]:
    """Version, commit, interpreter and platform of the machine that ran."""
    return {"ragmed_version": ragmed_version(), "git_commit": git_commit(), "python": sys.version.split()[0],
            "platform": platform.platform(), "argv": sys.argv}


def run_identity(config: Any, dataset: Any, items: list[Any]) -> dict[str, Any]:
    """What makes two runs the same run: the config, the dataset checksum and the selected item ids."""
    run = asdict(config)
    if config.baseline:
        run.update(generator=None, mode=None, retrieval=None, index=None, k=None)
    ids = sha256_text("\n".join(i.id for i in items))
    return {**run, "dataset_checksum": dataset.checksum, "dataset_format": dataset.format, "item_ids_sha256": ids}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` atomically (a temporary file renamed over the old one)."""
    path = folder / MANIFEST
    partial = path.with_suffix(".json.part")
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str), encoding="utf-8")
    partial.replace(path)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of a run folder, or None when there is none."""
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"damaged run manifest {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"damaged run manifest {path}: expected an object")
    return data


def build_manifest(config: Any, dataset: Any, identity: dict[str, Any], engine: Any,
                   items: list[Any]) -> dict[str, Any]:
    """The manifest of a run: identity, environment, dataset, and the settings, models and index used."""
    manifest: dict[str, Any] = {
        "run": identity, "created": now(), "environment": environment(),
        "dataset": {"name": dataset.name, "path": str(dataset.path), "format": dataset.format,
                    "sha256": dataset.checksum, "items": len(dataset.items), "selected": len(items),
                    "skipped_records": len(dataset.errors), "errors": [str(e) for e in dataset.errors[:200]]},
    }
    if engine is not None:
        manifest["settings"] = settings_dump(engine.settings)
        manifest["models"] = models_info(engine.settings, config.generator)
        manifest["index"] = index_info(engine)
    return manifest
