"""The public surface is pinned and the settings read the environment."""

from __future__ import annotations

import pytest

import ragmed
from ragmed.config import load_settings
from ragmed.errors import ConfigError

pytestmark = pytest.mark.unit


def test_all_is_pinned():
    assert sorted(ragmed.__all__) == sorted([
        "Answer", "Chunk", "Citation", "Concept", "Document", "Engine", "Filters", "IngestReport", "Passage",
        "RagmedError", "SafetyFlag", "Settings", "__version__", "load_settings",
    ])
    for name in ragmed.__all__:
        assert getattr(ragmed, name) is not None


def test_settings_come_from_ragmed_environment(monkeypatch):
    monkeypatch.setenv("RAGMED_RETRIEVAL__TOP_K", "9")
    monkeypatch.setenv("RAGMED_INDEX__FACTORY", "HNSW32")
    settings = load_settings()
    assert settings.retrieval.top_k == 9
    assert settings.index.factory == "HNSW32"


def test_bad_setting_names_the_field(monkeypatch):
    monkeypatch.setenv("RAGMED_RETRIEVAL__TOP_K", "0")
    with pytest.raises(ConfigError, match="top_k"):
        load_settings()


def test_preset_file_is_read_and_environment_wins(tmp_path, monkeypatch):
    preset = tmp_path / "preset.toml"
    preset.write_text('[retrieval]\ntop_k = 3\nmode = "bm25"\n')
    monkeypatch.setenv("RAGMED_RETRIEVAL__MODE", "dense")
    settings = load_settings(preset)
    assert (settings.retrieval.top_k, settings.retrieval.mode) == (3, "dense")
