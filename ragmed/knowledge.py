"""The knowledge manifest: which literature and ontology sources an index is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ragmed._toml import tomllib
from ragmed.errors import ConfigError


@dataclass
class LiteratureSource:
    """A literature file or folder with its reader, licence and attribution."""

    name: str
    path: Path
    reader: str | None = None
    licence: str = ""
    attribution: str = ""
    licence_file: Path | None = None


@dataclass
class OntologySource:
    """An ontology file with its format, version, licence, attribution and whether to embed cards."""

    name: str
    path: Path
    format: str
    version: str = ""
    licence: str = ""
    attribution: str = ""
    cards: bool | str = False


@dataclass
class KnowledgeManifest:
    """The parsed ``manifest.toml`` of a knowledge folder."""

    path: Path
    literature: list[LiteratureSource] = field(default_factory=list)
    ontology: list[OntologySource] = field(default_factory=list)

    @property
    def attributions(self) -> list[dict[str, str]]:
        """One entry per source: name, licence and the attribution line to display."""
        sources: list[LiteratureSource | OntologySource] = [*self.literature, *self.ontology]
        return [{"name": s.name, "licence": s.licence, "attribution": s.attribution} for s in sources if s.attribution]


GEMMA_NOTICE = "Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms."


def load_manifest(path: Path) -> KnowledgeManifest:
    """Read a knowledge manifest; relative paths resolve against its folder.

    Raises:
        ConfigError: the file is missing, not TOML, or an entry lacks ``name``/``path``/``format``.
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read knowledge manifest {path}: {exc}") from exc
    base = Path(path).resolve().parent
    manifest = KnowledgeManifest(path=Path(path))
    for position, entry in enumerate(data.get("literature", []), start=1):
        _require(entry, ("name", "path"), path, "literature", position)
        manifest.literature.append(LiteratureSource(
            name=entry["name"], path=base / entry["path"], reader=entry.get("reader"),
            licence=entry.get("licence", ""), attribution=entry.get("attribution", ""),
            licence_file=base / entry["licence_file"] if entry.get("licence_file") else None))
    for position, entry in enumerate(data.get("ontology", []), start=1):
        _require(entry, ("name", "path", "format"), path, "ontology", position)
        manifest.ontology.append(OntologySource(
            name=entry["name"], path=base / entry["path"], format=entry["format"], version=str(entry.get("version", "")),
            licence=entry.get("licence", ""), attribution=entry.get("attribution", ""), cards=entry.get("cards", False)))
    return manifest


def _require(entry: dict, keys: tuple[str, ...], path: Path, table: str, position: int) -> None:  # type: ignore[type-arg]
    missing = [k for k in keys if k not in entry]
    if missing:
        raise ConfigError(f"{path}: [[{table}]] entry {position} lacks {', '.join(missing)}")
