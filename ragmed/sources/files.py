"""Opening source files: transparent gzip, logical suffixes, stable file ids, sniffing heads."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import BinaryIO

from ragmed.errors import IngestError

#: Errors that a damaged or truncated gzip stream raises while it is read.
GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


def base_suffix(path: Path) -> str:
    """The lower-case suffix that names the format, looking through ``.gz`` ("a.xml.gz" -> ".xml")."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def open_binary(path: Path) -> BinaryIO | gzip.GzipFile:
    """Open ``path`` for reading bytes, decompressing ``.gz`` files on the fly.

    Raises:
        IngestError: the file cannot be opened (names the file and the reason).
    """
    try:
        if path.suffix.lower() == ".gz":
            return gzip.open(path, "rb")
        return path.open("rb")
    except OSError as exc:
        raise IngestError(f"cannot open file: {exc.strerror or exc}", location=str(path)) from exc


def read_text(path: Path) -> str:
    """Read a whole UTF-8 file (a byte-order mark is dropped; ``.gz`` is decompressed).

    Raises:
        IngestError: the file cannot be read or is not UTF-8 (names the byte offset).
    """
    with open_binary(path) as handle:
        try:
            data = handle.read()
        except GZIP_ERRORS as exc:
            raise IngestError(f"damaged gzip data: {exc}", location=str(path)) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"not UTF-8 text (bad byte at offset {exc.start})", location=str(path)) from exc


def read_head(path: Path, size: int = 65536) -> bytes:
    """The first ``size`` bytes of ``path`` (decompressed for ``.gz``); empty if unreadable."""
    try:
        with open_binary(path) as handle:
            return handle.read(size)
    except (IngestError, OSError, *GZIP_ERRORS):
        return b""


def file_id(path: Path, root: Path | None = None) -> str:
    """A stable document id for a file: ``file:<path relative to root>`` or ``file:<name>``."""
    if root is not None:
        try:
            relative = path.resolve().relative_to(root.resolve()).as_posix()
            if relative != ".":
                return "file:" + relative
        except ValueError:
            pass
    return "file:" + path.name
