"""The test suite's own promises to contributors: it carries its data (with licences), and CI's
``--fail-on-skip`` turns any skipped test into a failure that gives the skip's reason."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"

pytestmark = pytest.mark.unit

SKIPPING = '''
import pytest

def test_runs():
    assert True

def test_needs_a_browser():
    pytest.skip("Debian chromium is not installed at /usr/bin/chromium")

@pytest.mark.xfail(reason="a known bug, tracked elsewhere", strict=True)
def test_known_bug():
    assert False
'''


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in ``folder`` with a copy of this suite's conftest (no other plugins, wide lines)."""
    shutil.copy(TESTS / "conftest.py", folder / "conftest.py")
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", *args],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def test_fail_on_skip_fails_a_skipped_test_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "test_skipping.py").write_text(SKIPPING, encoding="utf-8")
    plain = _pytest(tmp_path)
    assert plain.returncode == 0 and "1 passed, 1 skipped, 1 xfailed" in plain.stdout, plain.stdout
    strict = _pytest(tmp_path, "--fail-on-skip")
    assert strict.returncode == 1 and "1 failed, 1 passed, 1 xfailed" in strict.stdout, strict.stdout
    assert "FAILED test_skipping.py::test_needs_a_browser" in strict.stdout
    assert "--fail-on-skip forbids skips: Debian chromium is not installed" in strict.stdout


def test_fail_on_skip_fails_a_module_skipped_at_import(tmp_path: Path) -> None:
    (tmp_path / "test_extra.py").write_text(
        'import pytest\npytest.importorskip("ragmed_no_such_extra", reason="the llm extra is not installed")\n\n'
        "def test_uses_the_extra():\n    assert True\n", encoding="utf-8")
    assert "1 skipped" in _pytest(tmp_path).stdout
    strict = _pytest(tmp_path, "--fail-on-skip")
    assert strict.returncode != 0 and "the llm extra is not installed" in strict.stdout, strict.stdout
    assert "1 error" in strict.stdout and "skipped" not in strict.stdout.splitlines()[-1]


def test_every_fixture_says_where_it_came_from_and_under_which_licence() -> None:
    data = [p for p in FIXTURES.rglob("*") if p.is_file() and p.name not in ("SOURCE.txt", "README.md")]
    for path in data:  # each file sits in a folder (or under one) whose SOURCE.txt describes it
        assert any((folder / "SOURCE.txt").exists() for folder in path.parents if folder != FIXTURES.parent
                   and FIXTURES in (folder, *folder.parents)), path
    licences = {p.name for p in (FIXTURES / "licences").iterdir()}
    for source in FIXTURES.rglob("SOURCE.txt"):
        text = source.read_text(encoding="utf-8")
        assert "licence" in text.lower() or "public domain" in text.lower(), source
        for named in re.findall(r"licences/([\w.-]+\.txt)", text):
            assert named in licences, (source, named)
    assert sum(p.stat().st_size for p in data) < 5_000_000  # small enough to travel with the code
