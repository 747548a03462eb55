"""Ontology stage on the real Disease Ontology, HPO, HPO annotations and ICD-10-CM files in knowledge/ontology,
the SNOMED CT RF2 and UMLS RRF samples in tests/fixtures, and malformed files written here."""

from __future__ import annotations

import csv
import gzip
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ragmed.errors import OntologyError
from ragmed.ontology import (
    ConceptStore,
    OntologySource,
    build_concept_store,
    concept_cards,
    expand_query,
    get_linker,
    load,
)
from ragmed.types import RecordError

REPO = Path(__file__).resolve().parents[1]
ONTOLOGY = REPO / "knowledge" / "ontology"
DOID = ONTOLOGY / "disease-ontology" / "doid-2024-01-31.obo"
HPO = ONTOLOGY / "hpo" / "hp.obo"
HPOA = ONTOLOGY / "hpo" / "phenotype.hpoa.gz"
ICD = ONTOLOGY / "icd10cm" / "icd10cm-tabular-April-1-2026.xml"
SAMPLES = REPO / "tests" / "fixtures" / "format-samples"
RF2 = SAMPLES / "snomed-rf2-mini"
RRF = SAMPLES / "umls-rrf"

LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
OIO = "http://www.geneontology.org/formats/oboInOwl#"


def obo_counts(path: Path) -> Counter[str]:
    """Tag counts over the live (not obsolete) [Term] stanzas, counted straight from the text."""
    counts: Counter[str] = Counter()
    for stanza in path.read_text(encoding="utf-8").split("\n\n"):
        lines = stanza.strip().splitlines()
        if not lines or lines[0] != "[Term]" or "is_obsolete: true" in lines:
            continue
        counts["terms"] += 1
        for line in lines[1:]:
            tag = line.split(":", 1)[0]
            scope = re.search(r'" (EXACT|RELATED|NARROW|BROAD)\b', line) if tag == "synonym" else None
            counts[f"synonym {scope.group(1)}" if scope else tag] += 1
    return counts


def predicate_counts(triples) -> Counter[str]:  # type: ignore[no-untyped-def]
    return Counter(str(t.predicate) for t in triples)


@pytest.fixture(scope="module")
def do_triples():  # type: ignore[no-untyped-def]
    return list(load(OntologySource(DOID, name="disease-ontology")))


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):  # type: ignore[no-untyped-def]
    """DO + HPO + HPO annotations + ICD-10-CM in one concept store, built once for the module."""
    path = tmp_path_factory.mktemp("ontology") / "concepts.sqlite"
    report = build_concept_store([
        OntologySource(DOID, name="disease-ontology", licence="CC0-1.0"),
        OntologySource(HPO, name="hpo", attribution="This service/product is using the Human Phenotype Ontology"),
        OntologySource(HPOA, name="hpo-annotations"),
        OntologySource(ICD, name="icd10cm", version="2026-04-01"),
    ], path)
    return report, ConceptStore(path)


@pytest.fixture(scope="module")
def linker(big_store):  # type: ignore[no-untyped-def]
    return get_linker(big_store[1])


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The SNOMED CT RF2 and UMLS RRF samples (with an MRREL written from the documented columns)."""
    folder = tmp_path_factory.mktemp("samples")
    meta = folder / "META"
    shutil.copytree(RRF, meta)
    (meta / "MRREL.RRF").write_text(MRREL, encoding="utf-8")
    path = folder / "concepts.sqlite"
    report = build_concept_store([OntologySource(RF2, name="snomedct"), OntologySource(meta, name="umls")], path)
    return report, ConceptStore(path)


# CUI1|AUI1|STYPE1|REL|CUI2|AUI2|STYPE2|RELA|RUI|SRUI|SAB|SL|RG|DIR|SUPPRESS|CVF|
MRREL = (
    "C0000039|A0016515|AUI|PAR|C0000005|A26634265|AUI||R00000001||MSH|MSH|||N||\n"
    "C0000005|A26634265|AUI|RO|C0000039|A0016515|AUI|has_ingredient|R00000002||MSH|MSH|||N||\n"
    "C0000005|A26634265|AUI|RO|C0000039|A0016515|AUI|suppressed_rela|R00000003||MSH|MSH|||O||\n"
)


# -- loaders on the real files -------------------------------------------------------------------
@pytest.mark.integration
def test_disease_ontology_triples_match_the_obo_file(do_triples) -> None:  # type: ignore[no-untyped-def]
    expected = obo_counts(DOID)
    got = predicate_counts(do_triples)
    assert expected["terms"] == 11501
    assert got[LABEL] == expected["name"] == expected["terms"]
    assert got[SUBCLASS] == expected["is_a"]
    assert got[OIO + "hasDbXref"] == expected["xref"]
    assert got["http://purl.obolibrary.org/obo/IAO_0000115"] == expected["def"]
    for scope in ("EXACT", "RELATED", "NARROW", "BROAD"):
        assert got[f"{OIO}has{scope.title()}Synonym"] == expected[f"synonym {scope}"], scope
    assert all(t.source == "disease-ontology" and t.version == "2024-01-31" for t in do_triples)
    labels = {str(t.subject): str(t.object) for t in do_triples if str(t.predicate) == LABEL}
    assert labels["http://purl.obolibrary.org/obo/DOID_9352"] == "type 2 diabetes mellitus"


@pytest.mark.integration
def test_concept_counts_agree_with_the_files(big_store) -> None:  # type: ignore[no-untyped-def]
    report, store = big_store
    by_name = {s.name: s for s in report.sources}
    assert not report.errors
    assert store.count("disease-ontology") == obo_counts(DOID)["terms"]
    assert store.count("hpo") == obo_counts(HPO)["terms"]
    icd = ICD.read_text(encoding="utf-8")
    codes = len(re.findall(r"<diag[ >]", icd))
    blocks = len(re.findall(r'<section id="[^"]*-[^"]*"', icd))  # one-category blocks are the category
    assert codes == 46881
    assert store.count("icd10cm") == codes + blocks
    assert by_name["icd10cm"].version == "2026-04-01"
    with gzip.open(HPOA, "rt", encoding="utf-8") as handle:
        rows = [r for r in csv.reader(handle, delimiter="\t") if r and not r[0].startswith("#")][1:]
    assert store.count("hpo-annotations") == len({r[0] for r in rows})
    phenotype_links = {(r[0], r[3]) for r in rows if r[10] == "P" and r[2] != "NOT"}
    assert by_name["hpo-annotations"].triples == len({r[0] for r in rows}) + len(phenotype_links)
    assert report.concepts == len(store)


@pytest.mark.integration
def test_merged_view_joins_one_disease_across_ontologies(big_store) -> None:  # type: ignore[no-untyped-def]
    store = big_store[1]
    t2dm = store.merged("DOID:9352")
    assert t2dm is not None and t2dm.label == "type 2 diabetes mellitus"
    for system, code in [("DOID", "DOID:9352"), ("ICD10CM", "E11"), ("MESH", "D003924"), ("UMLS", "C0011860"),
                         ("SNOMEDCT", "44054006")]:
        assert code in t2dm.codes[system]
    assert t2dm.source == "disease-ontology" and t2dm.version == "2024-01-31"
    hypertension = store.merged("HP:0000822")  # HPO's term reaches DO and ICD-10-CM through the shared UMLS CUI
    assert "DOID:10763" in hypertension.codes["DOID"] and "I10" in hypertension.codes["ICD10CM"]
    assert store.record("ICD10CM:E11.9").parents == [("ICD10CM:E11", "Type 2 diabetes mellitus")]


# -- linking and expansion -------------------------------------------------------------------------
@pytest.mark.integration
def test_lay_question_links_myocardial_infarction_and_hypertension(linker) -> None:  # type: ignore[no-untyped-def]
    text = "my dad had a heart attack and has high blood pressure"
    concepts = linker.link(text)
    by_curie = {c.curie: c for c in concepts}
    assert set(by_curie) == {"DOID:5844", "DOID:10763"}
    mi, htn = by_curie["DOID:5844"], by_curie["DOID:10763"]
    assert mi.label == "myocardial infarction" and htn.label == "hypertension"
    assert any(code.startswith("I21") for code in mi.codes["ICD10CM"])
    assert htn.codes["ICD10CM"] == ["I10"]
    assert (mi.mention, text[mi.start:mi.end]) == ("heart attack", "heart attack")
    assert text[htn.start:htn.end] == "high blood pressure"


@pytest.mark.integration
def test_linking_ignores_case_plurals_punctuation_and_junk(linker) -> None:  # type: ignore[no-untyped-def]
    assert [c.curie for c in linker.link("HEART-ATTACKS in men")] == ["DOID:5844"]
    assert [c.curie for c in linker.link("Alzheimers diseases")] == ["DOID:10652"]
    assert [c.curie for c in linker.link("treated for HTN")] == ["DOID:10763"]
    assert "DOID:635" not in [c.curie for c in linker.link("he wears hearing aids")]  # AIDS only in capitals
    assert linker.link("the disease of the patient") == []
    assert [c.curie for c in linker.link("recurrent, severe, with a family history of obesity")] == ["DOID:9970"]
    longest = linker.link("chronic kidney disease")
    assert [(c.curie, c.mention) for c in longest] == [("DOID:784", "chronic kidney disease")]


@pytest.mark.integration
def test_expansion_adds_labels_and_exact_synonyms(linker, big_store) -> None:  # type: ignore[no-untyped-def]
    expanded = expand_query("heart attack in women", linker, big_store[1])
    assert expanded.added_terms[0] == "myocardial infarction"
    assert expanded.text.startswith("heart attack in women ") and "myocardial infarction" in expanded.text
    assert "heart attack" not in [t.lower() for t in expanded.added_terms]
    assert [c.curie for c in expanded.concepts] == ["DOID:5844"]
    assert len(expand_query("heart attack, diabetes and asthma", linker, max_terms=2).added_terms) <= 2
    assert expand_query("the weather today", linker).text == "the weather today"


@pytest.mark.integration
def test_concept_cards_name_curie_codes_and_triples(big_store) -> None:  # type: ignore[no-untyped-def]
    store = big_store[1]
    card = next(concept_cards(store, curie_list=["DOID:9352"]))
    assert card.id == "concept:DOID:9352" and card.source == "ontology/disease-ontology"
    assert card.title == "type 2 diabetes mellitus" and card.licence == "CC0-1.0"
    assert card.text.startswith("Type 2 diabetes mellitus (DOID:9352) is a diabetes mellitus.")
    for part in ("NIDDM", "Definition: A diabetes mellitus", "ICD-10-CM E11", "MeSH D003924", "UMLS C0011860",
                 "SNOMED CT 44054006"):
        assert part in card.text
    assert card.metadata["curie"] == "DOID:9352" and card.metadata["version"] == "2024-01-31"
    assert ["DOID:9352", "rdfs:subClassOf", "DOID:9351"] in card.metadata["triples"]
    defined = sum(1 for _ in concept_cards(store, ontologies=["disease-ontology"], require_definition=True))
    assert defined == obo_counts(DOID)["def"]
    hpo_card = next(concept_cards(store, curie_list=["HP:0001945"]))
    assert hpo_card.metadata["attribution"].startswith("This service/product is using the Human Phenotype")
    assert len(list(concept_cards(store, ontologies=["hpo"], limit=5))) == 5


@pytest.mark.integration
def test_concepts_command_prints_curies_and_codes(big_store) -> None:  # type: ignore[no-untyped-def]
    import typer
    from typer.testing import CliRunner

    from ragmed.ontology.cli import register

    app = typer.Typer()
    register(app)
    store = str(big_store[1].path)
    text = "my dad had a heart attack and has high blood pressure"
    result = CliRunner().invoke(app, ["concepts", text, "--store", store, "--json"])
    assert result.exit_code == 0, result.output
    linked = {c["curie"]: c for c in json.loads(result.output)}
    assert linked["DOID:5844"]["codes"]["ICD10CM"] == ["I21"] and linked["DOID:10763"]["codes"]["ICD10CM"] == ["I10"]
    table = CliRunner().invoke(app, ["concepts", text, "--store", store])
    assert "DOID:5844" in table.output and "ICD-10-CM I10" in table.output
    missing = CliRunner().invoke(app, ["concepts", text, "--store", str(Path(store).with_name("none.sqlite"))])
    assert missing.exit_code == 2 and "ragmed build" in missing.output


# -- RF2, RRF, export --------------------------------------------------------------------------
@pytest.mark.unit
def test_snomed_and_umls_samples(sample_store) -> None:  # type: ignore[no-untyped-def]
    report, store = sample_store
    counts = {s.name: s for s in report.sources}
    assert not report.errors
    assert counts["snomedct"].loader == {"concepts": 11, "descriptions": 10, "relationships": 10, "inactive": 0,
                                         "broken": 0}
    disorder = store.record("SNOMEDCT:362969004")
    assert disorder.label == "Disorder of endocrine system" and disorder.semantic_types == ["disorder"]
    assert disorder.parents == [("SNOMEDCT:404684003", "Clinical finding")]
    assert disorder.version == "2021-01-31"
    maa = store.record("UMLS:C0000005")
    assert maa.label == "(131)I-Macroaggregated Albumin" and maa.synonyms == {"exact": ["(131)I-MAA"]}
    assert maa.xrefs == ["MESH:D012711"] and maa.semantic_types == ["Amino Acid, Peptide, or Protein"]
    dppc = store.record("UMLS:C0000039")
    assert dppc.definition.startswith("Synthetic phospholipid")
    assert dppc.parents == [("UMLS:C0000005", "(131)I-Macroaggregated Albumin")]  # MRREL PAR
    assert counts["umls"].loader["relations"] == 2 and counts["umls"].loader["filtered"] == 1


@pytest.mark.unit
def test_round_trip_through_turtle_and_ntriples_keeps_every_triple(tmp_path, do_triples) -> None:  # type: ignore[no-untyped-def]
    import rdflib

    from ragmed.ontology import export

    hpo_dated = [t for t in load(OntologySource(HPO, name="hpo"))
                 if "date" in str(t.predicate)][:200]  # typed literals (xsd:dateTime)
    triples = do_triples[:6000] + hpo_dated + list(load(OntologySource(RF2, name="snomedct")))
    expected = {t.spo for t in triples}
    for fmt, rdflib_format in (("ttl", "turtle"), ("nt", "nt")):
        out = tmp_path / f"triples.{fmt}"
        assert export(triples, out, format=fmt) == len(expected)
        graph = rdflib.Graph().parse(out, format=rdflib_format)
        assert set(graph) == expected, fmt
    with pytest.raises(OntologyError, match="ttl' or 'nt"):
        export(triples, tmp_path / "x.xml", format="xml")


# -- bad input -----------------------------------------------------------------------------------
OBO = """format-version: 1.2
data-version: test/2024-05-01

[Term]
id: TEST:1
name: first disease
synonym: "first" EXACT []

[Term]
id: TEST:2
name: broken disease
synonym: "second" SOMETIMES []

[Term]
name: no identifier at all

[Term]
id: TEST:3
name: third disease
is_a: TEST:1 ! first disease

[Term]
id: TEST:4
name: gone
is_obsolete: true
"""


@pytest.mark.unit
def test_broken_obo_stanza_names_file_and_line_and_the_rest_loads(tmp_path: Path) -> None:
    path = tmp_path / "test.obo"
    path.write_text(OBO, encoding="utf-8")
    errors: list[RecordError] = []
    triples = list(load(OntologySource(path, name="test"), errors.append))
    assert [e.location for e in errors] == [f"{path}:12", f"{path}:14"]
    assert "synonym scope" in errors[0].message and "'id'" in errors[1].message
    labels = sorted(str(t.object) for t in triples if str(t.predicate) == LABEL)
    assert labels == ["first disease", "third disease"]
    assert {t.version for t in triples} == {"2024-05-01"}
    with pytest.raises(OntologyError, match=re.escape(f"{path}:12")):
        list(load(OntologySource(path, name="test")))


@pytest.mark.unit
def test_invalid_rdf_names_file_and_line_and_the_rest_loads(tmp_path: Path) -> None:
    ttl = tmp_path / "bad.ttl"
    ttl.write_text('@prefix ex: <http://example.org/> .\n@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n'
                   'ex:a rdfs:label "asthma" .\nex:b rdfs:label """two\nlines""" ;\n  rdfs:subClassOf ex:a .\n'
                   'ex:c rdfs:label "broken" ex:oops .\nex:d rdfs:label "diabetes" .\n', encoding="utf-8")
    errors: list[RecordError] = []
    triples = list(load(OntologySource(ttl), errors.append))
    assert [e.location for e in errors] == [f"{ttl}:7"]
    assert sorted(str(t.object) for t in triples if str(t.predicate) == LABEL) == ["asthma", "diabetes", "two\nlines"]
    nt = tmp_path / "bad.nt"
    nt.write_text('<http://e/a> <http://e/p> "x" .\n<http://e/b> <http://e/p> nonsense .\n'
                  '<http://e/c> <http://e/p> "z" .\n', encoding="utf-8")
    errors.clear()
    assert len(list(load(OntologySource(nt), errors.append))) == 2 and errors[0].location == f"{nt}:2"
    owl = tmp_path / "bad.owl"
    owl.write_text('<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
                   '<rdf:Description rdf:about="http://e/a">\n</rdf:RDF>\n', encoding="utf-8")
    with pytest.raises(OntologyError, match=re.escape(f"{owl}:4")):
        list(load(OntologySource(owl), errors.append))


@pytest.mark.unit
def test_rrf_row_with_wrong_column_count_names_file_and_line(tmp_path: Path) -> None:
    meta = tmp_path / "META"
    shutil.copytree(RRF, meta)
    with open(meta / "MRCONSO.RRF", "a", encoding="utf-8") as handle:
        handle.write("\nC0000052|ENG|P|only|five|\n")
    (meta / "MRREL.RRF").write_text(MRREL + "C0000005|A1|AUI|PAR|\n", encoding="utf-8")
    errors: list[RecordError] = []
    triples = list(load(OntologySource(meta, name="umls"), errors.append))
    assert [e.location for e in errors] == [f"{meta / 'MRCONSO.RRF'}:4", f"{meta / 'MRREL.RRF'}:4"]
    assert "expected 18 columns" in errors[0].message
    labels = {str(t.subject).rsplit("/", 1)[1] for t in triples if str(t.predicate) == LABEL}
    assert labels == {"C0000005", "C0000039"}


@pytest.mark.unit
def test_rf2_file_with_missing_columns_names_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "Snapshot"
    shutil.copytree(RF2, folder)
    description = next(folder.glob("sct2_Description_*"))
    lines = description.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("\tterm", "")  # header after three comment lines
    description.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = build_concept_store([OntologySource(folder, name="snomedct")], tmp_path / "concepts.sqlite")
    assert [e.location for e in report.errors] == [f"{description}:4"]
    assert "term" in report.errors[0].message
    assert report.sources[0].loader["concepts"] == 11 and report.sources[0].loader["relationships"] == 10


@pytest.mark.unit
def test_unreadable_source_is_reported_and_the_others_still_build(tmp_path: Path) -> None:
    good = tmp_path / "good.obo"
    good.write_text(OBO, encoding="utf-8")
    missing = tmp_path / "missing.obo"
    report = build_concept_store([OntologySource(missing, name="missing"), OntologySource(good, name="good")],
                                 tmp_path / "concepts.sqlite", on_error=lambda e: None)
    assert report.errors[0].location == str(missing) and "cannot open" in report.errors[0].message
    assert ConceptStore(tmp_path / "concepts.sqlite").count("good") == 2
    with pytest.raises(OntologyError, match="not found"):
        ConceptStore(tmp_path / "nothing.sqlite")


@pytest.mark.unit
def test_lookups_do_not_import_rdflib(sample_store) -> None:  # type: ignore[no-untyped-def]
    code = ("import sys; from ragmed.ontology import ConceptStore, get_linker; "
            f"s = ConceptStore({str(sample_store[1].path)!r}); "
            "print(get_linker(s).link('Disorder of endocrine system')[0].curie, 'rdflib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.split() == ["SNOMEDCT:362969004", "False"]


@pytest.mark.unit
def test_skos_turtle_and_json_ld_become_concepts(tmp_path: Path) -> None:
    ttl = tmp_path / "lay.ttl"
    ttl.write_text(
        '@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n@prefix owl: <http://www.w3.org/2002/07/owl#> .\n'
        '@prefix oio: <http://www.geneontology.org/formats/oboInOwl#> .\n'
        '<http://example.org/lay> a owl:Ontology ; owl:versionInfo "2025-02" .\n'
        '<http://example.org/c/1> a skos:Concept ; skos:prefLabel "Stroke"@en , "Schlaganfall"@de ;\n'
        '  skos:altLabel "brain attack"@en ; skos:definition "Loss of brain function from blood flow." ;\n'
        '  oio:hasDbXref "UMLS_CUI:C0038454" ; skos:broader <http://example.org/c/0> .\n'
        '<http://example.org/c/0> a skos:Concept ; skos:prefLabel "Cerebrovascular disorder" .\n', encoding="utf-8")
    jsonld = tmp_path / "lay.jsonld"
    jsonld.write_text(json.dumps({"@id": "http://example.org/c/2", "@type": "http://www.w3.org/2002/07/owl#Class",
                                  "http://www.w3.org/2000/01/rdf-schema#label": "Migraine"}), encoding="utf-8")
    path = tmp_path / "concepts.sqlite"
    report = build_concept_store([OntologySource(ttl, name="lay"), OntologySource(jsonld, name="json")], path)
    assert [(s.format, s.version) for s in report.sources] == [("turtle", "2025-02"), ("json-ld", None)]
    store = ConceptStore(path)
    stroke = store.record("http://example.org/c/1")
    assert stroke.label == "Stroke" and stroke.synonyms == {"exact": ["brain attack"]}
    assert stroke.definition.startswith("Loss of brain") and stroke.xrefs == ["UMLS:C0038454"]
    assert stroke.parents == [("http://example.org/c/0", "Cerebrovascular disorder")]
    assert store.record("http://example.org/c/2").label == "Migraine" and len(store) == 3
    assert [c.curie for c in get_linker(store).link("after a brain attack")] == ["http://example.org/c/1"]


@pytest.mark.unit
def test_index_build_makes_store_and_selected_cards(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from ragmed.ontology.service import OntologyService, build_concepts
    from ragmed.types import IngestReport

    good = tmp_path / "test.obo"
    good.write_text(OBO, encoding="utf-8")
    entries = [SimpleNamespace(name="test", path=good, format="obo", version="", licence="CC0 1.0", attribution="",
                               cards="all"),
               SimpleNamespace(name="gone", path=tmp_path / "gone.obo", format="obo", version="", licence="",
                               attribution="", cards=False)]
    report = IngestReport()
    cards = list(build_concepts(entries, tmp_path, report))
    assert [c.id for c in cards] == ["concept:TEST:1", "concept:TEST:3"]
    assert cards[1].text == "Third disease (TEST:3) is a first disease." and cards[1].licence == "CC0 1.0"
    assert [e.location for e in report.errors] == [f"{good}:12", f"{good}:14", str(tmp_path / "gone.obo")]
    service = OntologyService.open(tmp_path / "concepts.sqlite")
    assert service.count() == 2
    assert [c.curie for c in service.link("the third disease")] == ["TEST:3"]
    assert service.expand("the third disease").concepts[0].label == "third disease"


def test_a_second_service_links_after_the_first_one_closed(concepts) -> None:  # type: ignore[no-untyped-def]
    """Linkers are shared per file: closing one service must not break the next (index builds open one per batch)."""
    from ragmed.ontology.service import OntologyService

    first = OntologyService.open(concepts.store.path)
    assert any("asthma" in c.label.lower() for c in first.link("asthma in children"))
    first.close()
    second = OntologyService.open(concepts.store.path)
    try:
        assert any("asthma" in c.label.lower() for c in second.link("severe asthma attack"))
    finally:
        second.close()
    assert concepts.link("asthma")  # the session's own service still links too
