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


def test_arguments_beat_environment_beat_preset_beat_defaults(tmp_path, monkeypatch):
    preset = tmp_path / "preset.json"  # a name not ending in .toml is read as JSON
    preset.write_text('{"retrieval": {"top_k": 3, "mode": "bm25"}, "generation": {"max_new_tokens": 99}}')
    monkeypatch.setenv("RAGMED_PRESET", str(preset))
    monkeypatch.setenv("RAGMED_RETRIEVAL__MODE", "dense")
    settings = load_settings(retrieval={"top_k": 7})
    # argument (top_k), environment (mode), preset (max_new_tokens), default (backend), merged per field
    assert (settings.retrieval.top_k, settings.retrieval.mode) == (7, "dense")
    assert (settings.generation.max_new_tokens, settings.generation.backend) == (99, "extractive")
    assert load_settings("gemma").generation.backend == "llamacpp"  # the argument's preset beats RAGMED_PRESET


def test_unreadable_preset_is_a_config_error_naming_the_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read preset .*missing.toml: no such file"):
        load_settings(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[retrieval\n")
    with pytest.raises(ConfigError, match="cannot read preset .*broken.toml"):
        load_settings(broken)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[retrieval]\nnope = 1\n")
    with pytest.raises(ConfigError, match="retrieval.nope"):
        load_settings(unknown)
