"""Trained safety weights on disk: numpy ``.npz`` arrays (loaded without pickle) and a JSON manifest that
records the bank checksum, the embedding model, the seed, the operating point and the dev figures.

Example:
    >>> arrays, manifest = load_weights(WEIGHTS, "triage")
    >>> manifest["bank_sha256"] == SafetyBank.load(folder).checksum()  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ragmed.errors import ConfigError
from ragmed.hashing import sha256_bytes, sha256_file

WEIGHTS = Path(__file__).resolve().parent / "weights"
"""The shipped weights: ``triage.npz``/``triage.json`` and ``injection.npz``/``injection.json``."""


def save_weights(folder: Path, name: str, arrays: dict[str, np.ndarray], manifest: dict[str, Any]) -> Path:
    """Write ``<name>.npz`` (compressed) and ``<name>.json`` (with the arrays' SHA-256) to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.npz"
    with path.open("wb") as handle:
        np.savez_compressed(handle, allow_pickle=False, **arrays)
    manifest = {**manifest, "weights_sha256": sha256_file(path)}
    (folder / f"{name}.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def load_weights(folder: Path, name: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and manifest of ``<name>`` in ``folder``.

    Raises:
        ConfigError: a file is missing, unreadable, or the arrays do not match the manifest's checksum.
    """
    path, meta = folder / f"{name}.npz", folder / f"{name}.json"
    try:
        manifest = json.loads(meta.read_text(encoding="utf-8"))
        blob = path.read_bytes()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the {name} weights in {folder} (run `ragmed train {name}`): {exc}") from exc
    if sha256_bytes(blob) != manifest.get("weights_sha256"):
        raise ConfigError(f"{path} does not match the checksum in {meta}; retrain with `ragmed train {name}`")
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    return arrays, manifest
