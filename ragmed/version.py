"""The installed ragmed version, the one lookup that manifests, the API and ``ragmed.__version__`` use."""

from __future__ import annotations

import functools

__all__ = ["ragmed_version"]


@functools.cache
def ragmed_version() -> str:
    """The installed ragmed distribution's version (``0+local`` when running from a source tree that was never
    installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ragmed")
    except PackageNotFoundError:
        return "0+local"
