"""ragmed's own verifier: the cross-encoder that ``ragmed train verifier`` makes, shipped with the package.

The weights live in ``ragmed/models/verifier`` beside a ``manifest.json`` that records how they were made
and the SHA-256 of every file. They are checked when the verifier is opened: a missing or damaged file is
an error at start, never a silent switch to another scorer.
"""

from __future__ import annotations

import json
from pathlib import Path

from ragmed.errors import ConfigError
from ragmed.hashing import sha256_file

#: Where the packaged verifier lives.
PACKAGED = Path(__file__).resolve().parent.parent / "models" / "verifier"


def verify_weights(folder: Path) -> dict[str, object]:
    """Check ``folder`` holds a trained verifier whose files match its manifest; return the manifest.

    Raises:
        ConfigError: the manifest or a weights file is missing, unreadable or damaged.
    """
    manifest_path = folder / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no trained verifier in {folder} (manifest.json is missing); run `ragmed train verifier`, "
                          "or set RAGMED_VERIFIER__BACKEND=lexical") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"verifier manifest {manifest_path} is unreadable: {exc}") from exc
    files = manifest.get("files")
    if not isinstance(files, dict) or "model.safetensors" not in files:
        raise ConfigError(f"verifier manifest {manifest_path} lists no model.safetensors")
    for name, expected in files.items():
        path = folder / name
        try:
            actual = sha256_file(path)
        except FileNotFoundError:
            raise ConfigError(f"verifier file {path} is missing") from None
        if actual != expected:
            raise ConfigError(f"verifier file {path} is damaged (SHA-256 {actual[:12]}..., manifest says {str(expected)[:12]}...)")
    return dict(manifest)
