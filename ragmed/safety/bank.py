"""The safety bank: red-flag categories with their guidance and sources, and the example texts the
triage and the injection detector are trained on (``knowledge/safety/``).

Example:
    >>> bank = SafetyBank.load(Path("knowledge/safety"))
    >>> bank.category("self_harm").message[:40]
    "You don't have to face this alone, and h"
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ragmed._toml import tomllib
from ragmed.errors import ConfigError, IngestError
from ragmed.hashing import sha256_bytes
from ragmed.jsonl import iter_jsonl

FILES = ("categories.toml", "presentations.jsonl", "routine.jsonl", "personal.jsonl", "injection.jsonl",
         "injection_parts.toml")
"""The bank's files; their checksum pins the trained weights to the data they were trained on."""
PERSONAL_KINDS = ("dose", "dose_change", "weight_age_dose", "missed_double", "start_stop", "diagnosis")


@dataclass(frozen=True)
class Category:
    """A red-flag category: what to do now, from which public page, and its ontology concept set."""

    id: str
    title: str
    message: str
    source_name: str
    source_url: str
    concepts: tuple[str, ...] = ()


@dataclass(frozen=True)
class PersonalKind:
    """A kind of personal request declined for the public, with the kind reply and its source."""

    kind: str
    message: str
    source_name: str
    source_url: str


@dataclass(frozen=True)
class Example:
    """One bank text with its label: a category id, ``routine``, a personal kind or ``general``,
    ``injection`` or ``clean``; ``group`` is the file's sub-kind (``near_miss``, a language code)."""

    text: str
    label: str
    group: str = ""


@dataclass(frozen=True)
class SafetyBank:
    """The categories and examples of one bank folder."""

    folder: Path
    categories: tuple[Category, ...]
    personal: tuple[PersonalKind, ...]

    @classmethod
    def load(cls, folder: Path) -> SafetyBank:
        """Read ``categories.toml`` of ``folder``.

        Raises:
            ConfigError: the folder or file is missing, or an entry lacks a field (the entry is named).
        """
        path = Path(folder) / "categories.toml"
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read the safety categories {path}: {exc}") from exc
        try:
            categories = tuple(Category(id=c["id"], title=c["title"], message=c["message"], source_name=c["source_name"],
                                        source_url=c["source_url"], concepts=tuple(c.get("concepts", ())))
                               for c in data.get("category", []))
            personal = tuple(PersonalKind(kind=p["kind"], message=p["message"], source_name=p["source_name"],
                                          source_url=p["source_url"]) for p in data.get("personal", []))
        except KeyError as exc:
            raise ConfigError(f"{path}: an entry has no {exc.args[0]!r}") from exc
        if not categories:
            raise ConfigError(f"{path}: no [[category]] entries")
        missing = set(PERSONAL_KINDS) - {p.kind for p in personal}
        if missing:
            raise ConfigError(f"{path}: no [[personal]] entry for {', '.join(sorted(missing))}")
        return cls(Path(folder), categories, personal)

    @property
    def category_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.categories)

    def category(self, category_id: str) -> Category:
        """The category ``category_id``.

        Raises:
            KeyError: no such category.
        """
        for c in self.categories:
            if c.id == category_id:
                return c
        raise KeyError(f"no safety category {category_id!r}; known: {', '.join(self.category_ids)}")

    def personal_kind(self, kind: str) -> PersonalKind:
        """The reply for personal requests of ``kind``.

        Raises:
            KeyError: no such kind.
        """
        for p in self.personal:
            if p.kind == kind:
                return p
        raise KeyError(f"no personal kind {kind!r}; known: {', '.join(PERSONAL_KINDS)}")

    def examples(self, name: str) -> list[Example]:
        """The examples of one bank file (``presentations``, ``routine``, ``personal`` or ``injection``).

        Presentations are labelled by category, routine texts ``routine`` (group: near_miss or general),
        personal texts by kind (``general`` for those to answer), injection texts ``injection`` or
        ``clean`` (group: language).

        Raises:
            IngestError: the file is missing or a line is not a JSON object with a ``text`` (file and line named).
        """
        path = self.folder / f"{name}.jsonl"
        out = []
        for location, row in iter_jsonl(path):
            if not isinstance(row.get("text"), str):
                raise IngestError("not a bank example (no string field 'text')", location=location)
            text = row["text"]
            if name == "presentations":
                out.append(Example(text, row["category"]))
            elif name == "routine":
                out.append(Example(text, "routine", row.get("kind", "")))
            elif name == "personal":
                out.append(Example(text, row["kind"], row.get("label", "")))
            else:
                out.append(Example(text, row["label"], row.get("language", "")))
        return out

    def injection_parts(self) -> dict[str, dict[str, list[str]]]:
        """``injection_parts.toml``: per language, the address, directive, claim, standalone and clean parts
        from which training sentences are composed (empty when the file is absent).

        Raises:
            ConfigError: the file cannot be parsed.
        """
        path = self.folder / "injection_parts.toml"
        if not path.exists():
            return {}
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        return {lang: {k: [str(x) for x in v] for k, v in parts.items()} for lang, parts in data.items()}

    def checksum(self) -> str:
        """SHA-256 over the bank's files (name and content), the pin of the trained weights."""
        return sha256_bytes(b"".join(name.encode() + b"\0" + (self.folder / name).read_bytes() + b"\0"
                                     for name in FILES if (self.folder / name).exists()))


def bank_folder(knowledge_manifest: Path, configured: Path | None = None) -> Path:
    """The bank folder: ``configured``, else ``safety/`` next to the knowledge manifest."""
    return Path(configured) if configured else Path(knowledge_manifest).parent / "safety"


@lru_cache(maxsize=4)
def load_bank(folder: Path) -> SafetyBank:
    """``SafetyBank.load`` cached per folder."""
    return SafetyBank.load(folder)
