"""What an install relies on: the files pyproject.toml packages exist, the presets it ships load, the extras
named in error messages exist, and the modules import on the oldest Python the package declares."""

from __future__ import annotations

import ast
import glob
import subprocess
import sys
from pathlib import Path

import pytest

from ragmed._toml import tomllib
from ragmed.config import Settings, load_settings, shipped_presets
from ragmed.errors import EXTRAS, GenerationError, InvalidRequestError, MissingDependencyError, RagmedError, require

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
pytestmark = pytest.mark.unit


def test_every_packaged_path_exists() -> None:
    tool = PYPROJECT["tool"]["setuptools"]
    for package, patterns in tool["package-data"].items():
        for pattern in patterns:
            assert glob.glob(str(REPO / package / pattern)), f"package-data {package}/{pattern} matches nothing"
    for target, patterns in tool["data-files"].items():
        for pattern in patterns:
            assert glob.glob(str(REPO / pattern)), f"data-files {target}: {pattern} matches nothing"


def test_shipped_presets_load_by_name_and_change_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in list(__import__("os").environ) if k.startswith("RAGMED_")]:
        monkeypatch.delenv(name)
    assert set(shipped_presets()) >= {"extractive", "gemma", "server"}
    default = Settings()
    assert load_settings("gemma").generation.backend == "llamacpp"
    server = load_settings("server")
    assert server.safety.audience == "public" and server.logging.json_logs
    assert load_settings("extractive").generation.backend == default.generation.backend == "extractive"
    monkeypatch.setenv("RAGMED_PRESET", "gemma")
    monkeypatch.setenv("RAGMED_GENERATION__MAX_NEW_TOKENS", "32")
    settings = load_settings()
    assert settings.generation.backend == "llamacpp" and settings.generation.max_new_tokens == 32


def test_required_extras_exist_in_pyproject() -> None:
    declared = set(PYPROJECT["project"]["optional-dependencies"])
    assert set(EXTRAS) == declared - {"dev"}
    named: list[tuple[str, str]] = []
    for path in [*REPO.glob("ragmed/**/*.py"), *REPO.glob("api/**/*.py"), *REPO.glob("eval/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "require"
                    and len(node.args) == 2 and isinstance(node.args[1], ast.Constant)):
                named.append((str(path.relative_to(REPO)), node.args[1].value))
    assert named, "no require(module, extra) call found"
    assert [(where, extra) for where, extra in named if extra not in declared] == []


def test_missing_dependency_is_not_a_generation_failure() -> None:
    assert not issubclass(MissingDependencyError, GenerationError)
    with pytest.raises(MissingDependencyError, match=r"pip install 'ragmed\[llm\]'") as caught:
        require("ragmed_no_such_module", "llm")
    assert isinstance(caught.value, ImportError) and isinstance(caught.value, RagmedError)
    with pytest.raises(MissingDependencyError, match="pip install --force-reinstall ragmed"):
        require("ragmed_no_such_module")
    assert require("json", "llm").dumps([]) == "[]"  # an installed module is returned


def test_toml_loads_through_tomli_on_python_310() -> None:
    # Python 3.10 has no tomllib: stand in for it with a version of 3.10 and a tomli that is tomllib's code. The
    # manifest and safety bank read TOML through ragmed._toml, presets through pydantic-settings' TOML source;
    # both must pick tomli.
    code = (
        "import sys, types, tomllib\n"
        "sys.modules['tomllib'] = None\n"
        "fake = types.ModuleType('tomli'); fake.loads = tomllib.loads; fake.load = tomllib.load\n"
        "fake.TOMLDecodeError = tomllib.TOMLDecodeError\n"
        "sys.modules['tomli'] = fake\n"
        "sys.version_info = (3, 10, 14, 'final', 0)\n"
        "from ragmed._toml import tomllib as chosen\n"
        "assert chosen is fake, chosen\n"
        "from ragmed.knowledge import load_manifest\n"
        "from ragmed.config import load_settings\n"
        "print(load_settings('gemma').generation.backend)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "llamacpp"
    markers = [d for d in PYPROJECT["project"]["dependencies"] if d.startswith("tomli")]
    assert markers == ["tomli>=2.0; python_version < '3.11'"]


@pytest.mark.parametrize("question", ["", "   ", "\u200b\n", "\ufeff"])
def test_answerer_rejects_a_blank_question_like_the_engine(question: str) -> None:
    from ragmed.engine import _clean
    from ragmed.generate.answer import Answerer

    with pytest.raises(InvalidRequestError, match="question must not be empty"):
        _clean(question)
    answerer = Answerer(load_settings(verifier={"backend": "lexical"}))
    with pytest.raises(InvalidRequestError, match="question must not be empty"):
        next(iter(answerer.stream(question, [])))
