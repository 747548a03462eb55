"""Command-line faces of the ontology stage: ``ragmed concepts TEXT`` and ``ragmed triples export``.

``register(app)`` adds both to the main ``ragmed`` application.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ragmed.errors import RagmedError
from ragmed.ontology.curies import display_codes
from ragmed.ontology.service import STORE_FILENAME
from ragmed.types import RecordError

triples_app = typer.Typer(help="Ontology triples: load any supported format and write it out through rdflib.",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``concepts`` and ``triples export`` to ``app``."""
    app.command("concepts")(concepts_command)
    app.add_typer(triples_app, name="triples")


def default_store_path(index: str | None = None) -> Path:
    """``<index root>/<index name>/concepts.sqlite`` from the settings (``RAGMED_INDEX__ROOT``...)."""
    from ragmed.config import load_settings

    settings = load_settings()
    return Path(settings.index.root) / (index or settings.index.name) / STORE_FILENAME


def concepts_command(
    text: Annotated[str, typer.Argument(help="Text to link, e.g. a question.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the concepts as JSON.")] = False,
    index: Annotated[str | None, typer.Option(help="Index whose concept store to use.")] = None,
    store: Annotated[Path | None, typer.Option(help="Concept store file (overrides --index).")] = None,
) -> None:
    """Print the concepts linked in TEXT with their CURIEs and codes (DOID, ICD-10-CM, MeSH, UMLS, SNOMED CT)."""
    from ragmed.ontology.linker import get_linker
    from ragmed.ontology.store import ConceptStore

    path = store or default_store_path(index)
    if not path.exists():
        typer.echo(f"error: no concept store at {path}; build the index first (`ragmed build`: the knowledge "
                   "manifest lists its ontologies)", err=True)
        raise typer.Exit(2)
    try:
        concepts = get_linker(ConceptStore(path)).link(text)
    except RagmedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if json_out:
        typer.echo(json.dumps([c.to_dict() for c in concepts], indent=2, ensure_ascii=False))
        return
    if not concepts:
        typer.echo("No concepts found.")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("Mention", "CURIE", "Label", "Codes")
    for concept in concepts:
        main = {s: v for s, v in concept.codes.items() if s in ("DOID", "ICD10CM", "MESH", "UMLS", "SNOMEDCT", "HP")}
        codes = "; ".join(display_codes(main, skip=concept.curie))
        table.add_row(concept.mention or "", concept.curie, concept.label, codes)
    Console().print(table)


@triples_app.command("export")
def export_command(
    source: Annotated[Path, typer.Argument(help="Ontology file or release folder (OBO, OWL, TTL, NT, JSON-LD, "
                                                "ICD-10-CM XML, HPOA, UMLS META, SNOMED RF2).")],
    out: Annotated[Path, typer.Argument(help="Output file.")],
    format: Annotated[str, typer.Option("--format", help="Output format: ttl or nt.")] = "ttl",
    source_format: Annotated[str | None, typer.Option(help="Input format; detected when omitted.")] = None,
    name: Annotated[str | None, typer.Option(help="Ontology name recorded with the triples.")] = None,
) -> None:
    """Load SOURCE into triples and write them to OUT as Turtle or N-Triples."""
    from ragmed.ontology.base import OntologySource, load
    from ragmed.ontology.serialize import export

    errors: list[RecordError] = []
    try:
        ontology = OntologySource(source, format=source_format, name=name)
        written = export(load(ontology, errors.append), out, format=format)
    except RagmedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for error in errors:
        typer.echo(f"skipped {error}", err=True)
    typer.echo(f"wrote {written} triples of {ontology.name} {ontology.version or ''} to {out} "
               f"({len(errors)} record(s) skipped)")
