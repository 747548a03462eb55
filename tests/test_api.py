"""The HTTP service against a real uvicorn server on 127.0.0.1 over a small real index.

Unit tests cover de-identification, API keys and permissions; integration tests drive every endpoint with
httpx (streams read with httpx-sse) and the chat-completions endpoint with the ``openai`` client.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from api import create_app
from api.deid import deidentify as redact
from api.security import KeyStore, hash_secret
from ragmed.errors import ConfigError

WRITER, READER, GENERATOR = "w-secret-123", "r-secret-456", "g-secret-789"
QUESTION = "What are the symptoms of type 2 diabetes?"


# --- a real server in a thread -------------------------------------------------------------
class LiveServer:
    """uvicorn serving ``app`` on a free 127.0.0.1 port in a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.server.started:
                try:
                    if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def serve(settings: Any, engine: Any, **api: Any) -> LiveServer:
    """A live server over ``engine`` whose API settings are ``settings.api`` updated with ``api``."""
    from ragmed.config import ApiSettings

    values = {**settings.api.model_dump(), "api_keys": [f"writer:{WRITER}", hash_secret(READER),
                                                        f"generator:{GENERATOR}:read,generate"], **api}
    return LiveServer(create_app(settings.model_copy(update={"api": ApiSettings.model_validate(values)}), engine=engine))


def open_concept_engine(small_index: Any, root: Path) -> Any:
    """Copy the small index under ``root`` next to a Disease Ontology concept store and open it,
    so answers carry concepts with codes."""
    import dataclasses
    import shutil

    from ragmed.engine import Engine
    from ragmed.knowledge import load_manifest
    from ragmed.ontology.service import build_concepts
    from ragmed.types import IngestReport

    shutil.copytree(small_index.index.root / "small", root / "small", ignore=shutil.ignore_patterns(".lock"))
    doid = next(e for e in load_manifest(small_index.knowledge).ontology if e.name == "doid")
    report = IngestReport()
    for _ in build_concepts([dataclasses.replace(doid, cards=False)], root / "small", report):
        pass
    assert not report.errors, report.errors[:3]
    settings = small_index.model_copy(update={"index": small_index.index.model_copy(update={"root": root})})
    return Engine.open(settings, "small", build_if_missing=False)


@pytest.fixture(scope="module")
def concept_engine(small_index: Any, small_engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    engine = open_concept_engine(small_index, tmp_path_factory.mktemp("indexes"))
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def server(small_index: Any, concept_engine: Any) -> Iterator[LiveServer]:
    with serve(small_index, concept_engine, rate_limit_per_minute=10_000,
               cors_origins=["http://portal.example"]) as live:
        yield live


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=120) as c:
        yield c


def error_field(response: httpx.Response) -> str:
    body = response.json()
    return f"{body['error']['param']} | {body['detail']}"


# --- unit: redaction ---------------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "secret", "placeholder"),
    [
        ("Mr. John Smith has chest pain", "John Smith", "[NAME]"),
        ("Dr Alvarez prescribed metformin", "Alvarez", "[NAME]"),
        ("my name is jane doe and i have asthma", "jane doe", "[NAME]"),
        ("Hi, my name is Maria Lopez. Is ibuprofen safe?", "Maria Lopez", "[NAME]"),
        ("born on 04/12/1961, is that relevant?", "04/12/1961", "[DATE]"),
        ("admitted 2023-11-02 with fever", "2023-11-02", "[DATE]"),
        ("seen on March 3, 2024 for rash", "March 3, 2024", "[DATE]"),
        ("call me at (555) 987-6543", "987-6543", "[PHONE]"),
        ("or 555.123.4567 after six", "555.123.4567", "[PHONE]"),
        ("mail jane.doe+x@example.co.uk", "jane.doe", "[EMAIL]"),
        ("MRN 4451223 shows anemia", "4451223", "[ID]"),
        ("medical record number: AB-99812", "AB-99812", "[ID]"),
        ("SSN 123-45-6789", "123-45-6789", "[SSN]"),
        ("I live at 1234 North Maple Street, Apt 5B", "Maple", "[ADDRESS]"),
        ("Springfield, IL 62704", "62704", "[PLACE]"),
        ("zip code 90210", "90210", "[ZIP]"),
        ("from 192.168.1.20", "192.168.1.20", "[IP]"),
        ("my 92-year-old father fell", "92-year-old", "[AGE 90+]"),
    ],
)
def test_redact_removes_personal_identifiers(text: str, secret: str, placeholder: str) -> None:
    out = redact(text)
    assert secret not in out
    assert placeholder in out


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    [
        "What is the first-line treatment for type 2 diabetes in adults over 65?",
        "Is metformin 500 mg twice daily safe with an eGFR of 45 mL/min?",
        "What causes high blood pressure in May?",
        "Does vitamin D 1000 IU reduce fracture risk?",
        "Can type 1 diabetes be cured?",
    ],
)
def test_redact_leaves_medical_questions_alone(text: str) -> None:
    assert redact(text) == text


# --- unit: keys, limits, framing -----------------------------------------------------------
@pytest.mark.unit
def test_keys_are_matched_by_digest_and_named() -> None:
    keys = KeyStore.parse(["portal:s3cret", hash_secret("other-secret") + ":read", "bare-secret", "gen:a:b:generate"])
    assert keys.identify("s3cret").name == "portal"
    assert keys.identify("s3cret").permissions == {"read", "write"}
    assert keys.identify("other-secret").name.startswith("sha256:")
    assert keys.identify("other-secret").permissions == {"read"}
    assert keys.identify("bare-secret").name == "key3"
    assert keys.identify("a:b").permissions == {"generate"}  # a secret may hold colons
    assert keys.identify("portal:s3cret") is None
    assert keys.identify("wrong") is None
    assert "s3cret" not in repr(keys._keys)


@pytest.mark.unit
@pytest.mark.parametrize("entry", ["sha256:abc", "portal:", ":secret"])
def test_malformed_keys_are_refused_without_echoing_them(entry: str) -> None:
    with pytest.raises(ConfigError, match=r"api\.api_keys\[0\]") as info:
        KeyStore.parse([entry])
    assert "secret" not in str(info.value).replace("'name:secret'", "")


# --- integration: reading endpoints --------------------------------------------------------
def read_sse(client: httpx.Client, body: dict[str, Any], path: str = "/v1/ask",
             headers: dict[str, str] | None = None) -> list[tuple[str, Any]]:
    with connect_sse(client, "POST", path, json=body, headers=dict(headers or {})) as source:
        assert source.response.status_code == 200, source.response.read()
        assert source.response.headers["content-type"].startswith("text/event-stream")
        return [(event.event, json.loads(event.data)) for event in source.iter_sse()]


@pytest.mark.integration
def test_service_endpoints(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["ready"] is True and isinstance(ready["revision"], int)
    info = client.get("/v1/info").json()
    assert info["dimension"] == 384
    paths = client.get("/openapi.json").json()["paths"]
    for path in ["/v1/ask", "/v1/search", "/v1/documents/{doc_id}", "/v1/documents", "/v1/concepts",
                 "/v1/chat/completions", "/healthz", "/readyz", "/metrics"]:
        assert path in paths, path
    assert "ragmed API" in client.get("/docs").text
    attribution = " ".join(a["attribution"] for a in client.get("/v1/attribution").json()["attribution"])
    assert "This service/product is using the Human Phenotype Ontology (version 2025-01-16)" in attribution
    assert "CC BY 4.0" in attribution and "Gemma Terms of Use" in attribution


@pytest.mark.integration
def test_web_page_and_assets_are_local(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="question"' in page.text and 'aria-live="polite"' in page.text
    for asset in ["/static/app.js", "/static/style.css"]:
        body = client.get(asset)
        assert body.status_code == 200
        assert "cdn" not in body.text.lower() and "fonts.googleapis" not in body.text
    assert "http://" not in page.text and "https://" not in page.text


@pytest.mark.integration
def test_ask_returns_cited_answer_whose_spans_match_the_documents(client: httpx.Client) -> None:
    response = client.post("/v1/ask", json={"question": QUESTION, "audience": "clinician", "k": 5})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["citations"], answer["text"]
    assert "[1]" in answer["text"]
    assert answer["timings"]["retrieval_s"] >= 0 and answer["index_revision"] is not None
    for citation in answer["citations"]:
        document = client.get(citation["document"]).json()
        assert document["text"][citation["start"]:citation["end"]] == citation["sentence"]
        assert citation["link"]
    assert any(c["codes"] for c in answer["concepts"]), answer["concepts"]


@pytest.mark.integration
def test_ask_streams_checked_sentences_then_answer_then_done(client: httpx.Client) -> None:
    events = read_sse(client, {"question": QUESTION, "stream": True, "audience": "public"})
    names = [name for name, _ in events]
    assert names[0] == "sentence" and names[-2:] == ["answer", "done"]
    assert names.count("answer") == 1 and "draft" not in names
    answer = events[-2][1]
    assert answer["citations"] and answer["question"] == QUESTION
    for name, data in events:
        if name == "sentence":  # every streamed sentence is part of the checked answer
            assert data["text"] in answer["text"]


@pytest.mark.integration
def test_accept_header_selects_streaming_and_public_answers_carry_flags(client: httpx.Client) -> None:
    question = "I have crushing chest pain and shortness of breath, what should I do?"
    events = read_sse(client, {"question": question, "audience": "public"}, headers={"Accept": "text/event-stream"})
    assert events[0][0] == "lead" and any(f["kind"] == "emergency" for f in events[0][1]["flags"])
    answer = dict(events)["answer"]
    assert answer["audience"] == "public"
    assert answer["emergency"] is True
    assert any(f["kind"] == "emergency" for f in answer["flags"])


@pytest.mark.integration
def test_search_applies_filters(client: httpx.Client) -> None:
    body = client.post("/v1/search", json={"query": "diabetes insulin", "k": 4}).json()
    assert body["count"] == 4 and body["passages"][0]["text"]
    sources = {p["source"] for p in body["passages"]}
    only = min(sources)
    filtered = client.post("/v1/search", json={"query": "diabetes insulin", "k": 4, "filters": {"sources": [only]}}).json()
    assert filtered["passages"] and {p["source"] for p in filtered["passages"]} == {only}


@pytest.mark.integration
def test_concepts_carry_codes(client: httpx.Client) -> None:
    body = client.get("/v1/concepts", params={"q": "type 2 diabetes mellitus"}).json()
    assert body["count"] >= 1
    assert any(c["curie"].startswith("DOID:") and c["codes"] for c in body["concepts"]), body


@pytest.mark.integration
def test_chat_completions_with_the_openai_client(server: LiveServer) -> None:
    from openai import OpenAI

    llm = OpenAI(base_url=server.url + "/v1", api_key=READER, max_retries=0)
    assert [m.id for m in llm.models.list()] == ["ragmed"]
    reply = llm.chat.completions.create(model="ragmed", messages=[
        {"role": "system", "content": "Answer briefly."}, {"role": "user", "content": QUESTION}])
    assert reply.model == "ragmed"
    content = reply.choices[0].message.content or ""
    assert "[1]" in content and "Sources:" in content
    extra = reply.model_extra or {}
    assert extra["citations"] and extra["citations"][0]["n"] == 1
    assert (reply.choices[0].message.model_extra or {})["citations"] == extra["citations"]

    chunks = list(llm.chat.completions.create(model="ragmed", stream=True,
                                              messages=[{"role": "user", "content": QUESTION}]))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "[1]" in streamed and "Sources:" in streamed
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert (chunks[-1].model_extra or {})["citations"]


@pytest.mark.integration
def test_metrics_move_after_requests(client: httpx.Client) -> None:
    def value(text: str, prefix: str) -> float:
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))

    before = client.get("/metrics").text
    client.post("/v1/ask", json={"question": "How is type 2 diabetes treated?"})
    after = client.get("/metrics").text
    asks = 'ragmed_http_requests_total{method="POST",route="/v1/ask",status="200"}'
    assert value(after, asks) == value(before, asks) + 1
    stage = 'ragmed_answer_stage_seconds_count{stage="retrieval"}'
    assert value(after, stage) == value(before, stage) + 1
    assert 'ragmed_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/v1/ask"}' in after
    assert "ragmed_ready 1.0" in after


@pytest.mark.integration
def test_cors_allows_only_configured_origins(client: httpx.Client) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = client.options("/v1/ask", headers={"Origin": "http://portal.example", **preflight})
    assert allowed.headers.get("access-control-allow-origin") == "http://portal.example"
    other = client.options("/v1/ask", headers={"Origin": "http://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.integration
def test_access_log_is_json_with_the_question_hashed(client: httpx.Client) -> None:
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("ragmed.api.access")
    handler, level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        question = "My name is John Smith, MRN 4451223, phone 555-123-4567: what is type 2 diabetes?"
        assert client.post("/v1/ask", json={"question": question}).status_code == 200
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    logged = [json.loads(r) for r in records if '"/v1/ask"' in r]
    assert logged, records
    entry = logged[-1]
    assert entry["status"] == 200 and entry["route"] == "/v1/ask" and entry["duration_ms"] > 0
    for secret in ["John Smith", "4451223", "555-123-4567", "diabetes"]:
        assert secret not in json.dumps(entry)
    assert entry["question_len"] == len(question) and len(entry["question_hmac"]) == 32


# --- integration: bad input ----------------------------------------------------------------
BAD_REQUESTS = [
    ("POST", "/v1/ask", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "body"),
    ("POST", "/v1/ask", {"json": {"question": 123}}, 422, "question"),
    ("POST", "/v1/ask", {"json": {"question": "   "}}, 422, "question"),
    ("POST", "/v1/ask", {"json": {}}, 422, "question"),
    ("POST", "/v1/ask", {"json": {"question": "x" * 2001}}, 422, "question"),
    ("POST", "/v1/ask", {"json": {"question": "ok?", "k": "many"}}, 422, "k"),
    ("POST", "/v1/ask", {"json": {"question": "ok?", "audience": "kids"}}, 422, "audience"),
    ("POST", "/v1/ask", {"json": {"question": "ok?", "colour": "red"}}, 422, "colour"),
    ("POST", "/v1/ask", {"json": {"question": "\u200b \u2060"}}, 422, "question"),
    ("POST", "/v1/ask", {"content": b'{"question": "asthma \\ud800 ?"}', "headers": {"Content-Type": "application/json"}}, 422, "question"),
    ("POST", "/v1/ask", {"json": {"question": "ok?", "stream": 0}}, 422, "stream"),
    ("POST", "/v1/ask", {"json": {"question": "ok?", "k": "5"}}, 422, "k"),
    ("POST", "/v1/ask", {"json": {"question": "ok?", "generator": {"backend": "llamacpp"}}}, 401, "generator.backend"),
    ("POST", "/v1/ask", {"json": {"question": "ok?", "generator": {"max_new_tokens": 4000}},
                         "headers": {"X-API-Key": READER}}, 403, "generator.max_new_tokens"),
    ("POST", "/v1/chat/completions", {"json": {"messages": [{"role": "user", "content": "\u200b"}]}}, 422, "messages[0]"),
    ("POST", "/v1/ask", {"json": {"question": "ok?", "generator": {"backend": "gpt9"}}}, 422, "generator.backend"),
    ("POST", "/v1/search", {"json": {"query": ""}}, 422, "query"),
    ("POST", "/v1/search", {"json": {"query": "x", "mode": "magic"}}, 422, "mode"),
    ("GET", "/v1/concepts", {}, 422, "q"),
    ("GET", "/v1/documents/no-such-doc", {}, 404, "doc_id"),
    ("POST", "/v1/chat/completions", {"json": {"model": "ragmed", "messages": [{"role": "system", "content": "hi"}]}}, 422, "messages"),
    ("POST", "/v1/chat/completions", {"json": {"model": "ragmed", "messages": "hi"}}, 422, "messages"),
    ("GET", "/v1/nothing-here", {}, 404, "path"),
]


@pytest.mark.integration
@pytest.mark.parametrize(("method", "path", "kwargs", "status", "field"), BAD_REQUESTS)
def test_bad_input_gets_a_4xx_naming_the_field(client: httpx.Client, method: str, path: str,
                                               kwargs: dict[str, Any], status: int, field: str) -> None:
    response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert field in error_field(response)
    assert client.get("/healthz").status_code == 200


# --- integration: auth, limits -------------------------------------------------------------
@pytest.mark.integration
def test_keys_required_for_reads_when_configured(small_index: Any, small_engine: Any) -> None:
    with serve(small_index, small_engine, require_key_for_reads=True) as live, httpx.Client(base_url=live.url, timeout=60) as c:
        missing = c.post("/v1/search", json={"query": "asthma"})
        assert missing.status_code == 401 and "Authorization" in error_field(missing)
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = c.post("/v1/search", json={"query": "asthma"}, headers={"X-API-Key": "nope"})
        assert wrong.status_code == 403
        assert c.post("/v1/search", json={"query": "asthma"}, headers={"X-API-Key": READER}).status_code == 200
        bearer = c.post("/v1/search", json={"query": "asthma"}, headers={"Authorization": f"Bearer {WRITER}"})
        assert bearer.status_code == 200
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200


@pytest.mark.integration
def test_rate_limit_answers_429_with_retry_after(small_index: Any, small_engine: Any) -> None:
    with serve(small_index, small_engine, rate_limit_per_minute=3) as live, httpx.Client(base_url=live.url, timeout=60) as c:
        codes = [c.post("/v1/search", json={"query": "asthma"}).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        limited = c.post("/v1/search", json={"query": "asthma"})
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        keyed = c.post("/v1/search", json={"query": "asthma"}, headers={"X-API-Key": READER})
        assert keyed.status_code == 200  # a key has its own bucket


@pytest.mark.integration
def test_body_size_limit_and_timeout(small_index: Any, small_engine: Any) -> None:
    with serve(small_index, small_engine, max_body_bytes=2_000) as live, httpx.Client(base_url=live.url, timeout=60) as c:
        big = c.post("/v1/ask", json={"question": "why? " * 1000})
        assert big.status_code == 413 and "body" in error_field(big)

        def chunks() -> Iterator[bytes]:
            yield b'{"question": "'
            for _ in range(10):
                yield b"a" * 500
            yield b'"}'

        chunked = c.post("/v1/ask", content=chunks(), headers={"Content-Type": "application/json"})
        assert chunked.status_code == 413
        assert c.get("/healthz").status_code == 200
    with serve(small_index, small_engine, request_timeout_s=0.02) as live, httpx.Client(base_url=live.url, timeout=60) as c:
        slow = c.post("/v1/ask", json={"question": QUESTION + " " + "insulin glucose " * 100, "k": 50})
        assert slow.status_code == 504 and "request" in error_field(slow)


# --- integration: writes (their own index) -------------------------------------------------
@pytest.fixture(scope="module")
def writable(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[LiveServer]:
    from ragmed.engine import Engine
    from tests.conftest import KNOWLEDGE, make_settings

    settings = make_settings(tmp_path_factory.mktemp("indexes"), knowledge=str(KNOWLEDGE / "manifest.toml"))
    engine = Engine.create(settings, "writable")
    try:
        with serve(settings, engine) as live:
            yield live
    finally:
        engine.close()


@pytest.mark.integration
def test_writes_need_a_valid_key(writable: LiveServer) -> None:
    docs = [{"id": "t:1", "text": "Asthma is a chronic disease of the airways."}]
    assert httpx.post(writable.url + "/v1/documents", json=docs).status_code == 401
    assert httpx.post(writable.url + "/v1/documents", json=docs, headers={"X-API-Key": "bad"}).status_code == 403
    assert httpx.delete(writable.url + "/v1/documents/t:1").status_code == 401


@pytest.mark.integration
def test_add_search_and_delete_documents(writable: LiveServer) -> None:
    auth = {"Authorization": f"Bearer {WRITER}"}
    with httpx.Client(base_url=writable.url, timeout=120, headers=auth) as c:
        docs = [
            {"id": "note:1", "source": "notes", "title": "Scurvy", "date": "2020-05-01",
             "text": "Scurvy is caused by a lack of vitamin C. It causes bleeding gums and tiredness."},
            {"id": "note:2", "title": "No text here"},
            {"id": "note:3", "text": "Gout is arthritis caused by uric acid crystals.", "year": 2020},
        ]
        refused = c.post("/v1/documents", json=docs)
        assert refused.status_code == 422, refused.text  # checked whole: nothing written
        assert "documents[1].text" in refused.json()["detail"] and "documents[2].year" in refused.json()["detail"]
        assert c.get("/v1/documents/note:1").status_code == 404
        assert c.post("/v1/documents", json=[None, None]).status_code == 422
        report = c.post("/v1/documents", json={"documents": docs[:1]}).json()
        assert report["added"] == 1 and report["skipped"] == 0

        doc = c.get("/v1/documents/note:1").json()
        assert doc["title"] == "Scurvy" and doc["year"] == 2020
        hits = c.post("/v1/search", json={"query": "vitamin C deficiency bleeding gums"}).json()["passages"]
        assert hits[0]["doc_id"] == "note:1"

        deleted = c.delete("/v1/documents/note:1")
        assert deleted.status_code == 200 and deleted.json()["deleted"] == 1
        assert c.get("/v1/documents/note:1").status_code == 404
        assert c.delete("/v1/documents/note:1").status_code == 404
        put = c.put("/v1/documents/note:1")
        assert put.status_code == 405 and set(put.headers["allow"].split(", ")) >= {"GET", "DELETE"}


@pytest.mark.integration
def test_upload_files_in_supported_formats(writable: LiveServer, data_dir: Path) -> None:
    auth = {"X-API-Key": WRITER}
    medquad = data_dir / "medquad" / "4_MPlus_Health_Topics_QA" / "0000266.xml"
    with httpx.Client(base_url=writable.url, timeout=300, headers=auth) as c:
        with medquad.open("rb") as handle:
            report = c.post("/v1/documents", files={"file": (medquad.name, handle, "application/xml")})
        assert report.status_code == 200, report.text
        assert report.json()["added"] >= 1
        unsupported = c.post("/v1/documents", files={"file": ("notes.xyz", b"\x00\x01binary", "application/octet-stream")})
        assert unsupported.status_code == 200 and unsupported.json()["added"] == 0
        assert "notes.xyz" in " ".join(unsupported.json()["errors"])
        wrong_type = c.post("/v1/documents", content=b"id,text", headers={"Content-Type": "text/csv"})
        assert wrong_type.status_code == 415 and "Content-Type" in error_field(wrong_type)
        not_a_list = c.post("/v1/documents", json={"id": "x"})
        assert not_a_list.status_code == 422 and "body" in error_field(not_a_list)


# --- bounded work: queue, cancellation ----------------------------------------------------------
@pytest.mark.unit
def test_answer_pool_refuses_when_full_and_cancelled_jobs_never_start() -> None:
    import asyncio

    from api.errors import ApiError
    from api.work import AnswerPool

    release, started = threading.Event(), []

    def blocking(cancel: threading.Event) -> Iterator[str]:
        started.append("busy")
        release.wait(30)
        yield "done"

    def counted(cancel: threading.Event) -> Iterator[str]:
        started.append("queued")
        yield "ran"

    async def scenario() -> None:
        pool = AnswerPool(workers=1, waiting=1)
        busy = pool.submit(blocking)
        queued = pool.submit(counted)
        with pytest.raises(ApiError) as info:
            pool.submit(counted)
        assert info.value.status == 503 and int(info.value.headers["Retry-After"]) >= 1
        queued.cancel()  # cancelled while waiting: its work never starts
        release.set()
        assert [item async for item in busy.events()] == ["done"]
        assert [item async for item in queued.events()] == []
        assert started == ["busy"] and pool.admitted == 0
        pool.close()

    asyncio.run(scenario())


@pytest.mark.integration
def test_a_cancelled_request_skips_retrieval(small_engine: Any) -> None:
    from ragmed.errors import RequestCancelledError

    cancel = threading.Event()
    cancel.set()
    calls: list[str] = []
    search = small_engine.retriever.search

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append("search")
        return search(*args, **kwargs)

    small_engine.retriever.search = spy
    try:
        with pytest.raises(RequestCancelledError):
            list(small_engine.stream(QUESTION, cancel=cancel))
    finally:
        small_engine.retriever.search = search
    assert calls == []


@pytest.mark.integration
def test_a_dropped_stream_frees_its_answer_slot(server: LiveServer) -> None:
    runtime = server.server.config.app.state.runtime  # type: ignore[attr-defined]
    with httpx.Client(base_url=server.url, timeout=120) as c:
        for _ in range(5):
            with connect_sse(c, "POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as source:
                next(source.iter_sse())  # read one event, then hang up
    deadline = time.monotonic() + 60
    while runtime.pool.admitted and time.monotonic() < deadline:
        time.sleep(0.1)
    assert runtime.pool.admitted == 0


@pytest.mark.integration
def test_generate_permission_allows_another_backend(client: httpx.Client) -> None:
    body = {"question": QUESTION, "generator": {"backend": "extractive", "max_new_tokens": 400}}
    assert client.post("/v1/ask", json=body).status_code == 401
    allowed = client.post("/v1/ask", json=body, headers={"X-API-Key": GENERATOR})
    assert allowed.status_code == 200, allowed.text
    write = client.delete("/v1/documents/x", headers={"X-API-Key": GENERATOR})
    assert write.status_code == 403 and "write" in write.json()["detail"]


# --- the OpenAPI schema tells the truth ----------------------------------------------------------
@pytest.mark.integration
@pytest.mark.slow
def test_schemathesis_finds_no_mismatch(small_index: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Schemathesis, every check, about 50 cases per operation, against a live server on its own index."""
    import subprocess
    import sys

    engine = open_concept_engine(small_index, tmp_path_factory.mktemp("indexes"))
    try:
        with serve(small_index, engine, rate_limit_per_minute=100_000, answer_queue=64) as live:
            report = tmp_path_factory.mktemp("schemathesis")
            run = subprocess.run(
                [sys.executable, "-m", "schemathesis.cli", "run", live.url + "/openapi.json", "--checks", "all",
                 "--max-examples", "50", "--header", f"X-API-Key: {WRITER}", "--seed", "1",
                 "--generation-deterministic", "--report", "junit", "--report-dir", str(report),
                 "--request-timeout", "120", "--suppress-health-check", "all"],
                capture_output=True, text=True, timeout=3000, check=False)
            print(run.stdout[-6000:])
            assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    finally:
        engine.close()


@pytest.mark.unit
def test_every_json_operation_declares_its_success_and_error_schemas() -> None:
    from ragmed.config import Settings

    spec = create_app(Settings()).openapi()
    undeclared = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            success = [r for code, r in responses.items() if code.startswith("2")]
            json_bodies = [r["content"]["application/json"] for r in success if "application/json" in r.get("content", {})]
            if path in ("/", "/docs", "/docs/swagger", "/metrics"):
                continue  # a web page, the API docs and Prometheus text, not JSON
            if not json_bodies or not all("schema" in body and body["schema"] for body in json_bodies):
                undeclared.append((method, path, "success"))
            for code, response in responses.items():
                if code[0] in "45" and "schema" not in response.get("content", {}).get("application/json", {}):
                    undeclared.append((method, path, code))
            if path.startswith("/v1/") and "401" not in responses and path != "/v1/attribution":
                undeclared.append((method, path, "401"))
    assert undeclared == []
    assert {"/v1/ask", "/v1/search", "/v1/documents", "/v1/chat/completions", "/healthz"} <= set(spec["paths"])
