"""The code checks CI enforces: ruff (the rule set in pyproject.toml), ``mypy --strict`` and the import-linter
layering contracts, over ragmed, api and eval. Each tool runs once, as a subprocess, on this checkout.

The tools come with the ``dev`` extra (``pip install '.[dev]'``); a missing one fails here rather than skipping.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = [pytest.mark.quality, pytest.mark.slow]
PACKAGES = ["ragmed", "api", "eval"]


def _run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    # This checkout first on the path: an installed (or editable) ragmed elsewhere must not be what is checked.
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def _installed(module: str) -> None:
    assert importlib.util.find_spec(module) is not None, f"{module} is not installed: pip install '.[dev]'"


def test_ruff_finds_nothing() -> None:
    _installed("ruff")
    done = _run("-m", "ruff", "check", "--no-cache", *PACKAGES)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "All checks passed" in done.stdout


def test_mypy_strict_finds_nothing() -> None:
    _installed("mypy")
    done = _run("-m", "mypy", "--strict", *PACKAGES, timeout=900)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    checked = re.search(r"Success: no issues found in (\d+) source files", done.stdout)
    assert checked and int(checked.group(1)) >= 150, done.stdout[-2000:]  # every module was checked, not a few


def test_import_linter_contracts_are_kept() -> None:
    _installed("importlinter")
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    done = _run("-c", code, "--no-cache")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    counts = re.search(r"Contracts: (\d+) kept, (\d+) broken", done.stdout)
    assert counts and int(counts.group(1)) >= 2 and counts.group(2) == "0", done.stdout[-2000:]
    assert "layers" in done.stdout.lower() or "Interfaces above the engine" in done.stdout
