"""Index arrays as ``.npy`` files: written atomically, read back memory-mapped and checked against what is expected.

Opening checks only what costs no read of the data: the file is there, its header parses, its dtype and shape are
the expected ones and the file is long enough for them (a truncated file fails ``np.load(mmap_mode="r")``). Damage
inside the data is what the manifest's checksums catch when the index store opens.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ragmed.errors import IndexCorruptError
from ragmed.index.atomic import atomic_write


def write_npy(path: Path, array: np.ndarray) -> None:
    """Atomically replace ``path`` with ``array`` as a C-ordered ``.npy`` file."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, np.ascontiguousarray(array))

    atomic_write(path, write)


def read_npy(path: Path, dtype: type, shape: tuple[int, ...], what: str, mmap: bool = True) -> np.ndarray:
    """The array stored at ``path``, memory-mapped read-only when ``mmap`` (an empty array is always read).

    Args:
        path: the ``.npy`` file.
        dtype: the dtype it must hold.
        shape: the shape it must have.
        what: names the index in error messages ("BM25 index file").
        mmap: map the file instead of reading it into memory.

    Raises:
        IndexCorruptError: the file is missing, unreadable, truncated, or holds another dtype or shape.
    """
    if not path.exists():
        raise IndexCorruptError(f"{what} {path} is missing")
    try:
        array = np.load(path, mmap_mode="r") if mmap and shape[0] else np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise IndexCorruptError(f"cannot read {what} {path}: {exc}") from exc
    if array.dtype != dtype or array.shape != shape:
        raise IndexCorruptError(f"{what} {path} holds {array.dtype} {array.shape}, expected {np.dtype(dtype)} {shape}")
    return array if mmap and shape[0] else np.asarray(array)
