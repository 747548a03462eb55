// The ragmed question page: streams /v1/ask as Server-Sent Events and opens cited evidence.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const els = {
    form: $("ask-form"), question: $("question"), button: $("ask-button"), k: $("k"), key: $("api-key"),
    formError: $("form-error"), safety: $("safety-banner"), results: $("results"), status: $("status"),
    answer: $("answer"), notes: $("notes"), conceptsBlock: $("concepts-block"), concepts: $("concepts"),
    sourcesBlock: $("sources-block"), sources: $("sources"), timings: $("timings"),
    evidence: $("evidence"), evidenceTitle: $("evidence-title"), evidenceMeta: $("evidence-meta"),
    evidenceSentence: $("evidence-sentence"), evidenceText: $("evidence-text"), evidenceClose: $("evidence-close"),
    attribution: $("attribution"),
  };
  let current = null;        // AbortController of the request in flight
  let citations = new Map(); // n -> citation of the last answer
  let lastOpener = null;     // the button that opened the evidence card
  const documents = new Map();

  function headers(extra) {
    const h = Object.assign({}, extra || {});
    const key = els.key.value.trim();
    if (key) h["X-API-Key"] = key;
    return h;
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "className") node.className = value;
      else node.setAttribute(name, value);
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }

  async function errorMessage(response) {
    try {
      const body = await response.json();
      return body.detail || (body.error && body.error.message) || response.statusText;
    } catch (_) {
      return response.status + " " + response.statusText;
    }
  }

  // --- asking -----------------------------------------------------------------------------
  async function ask(event) {
    event.preventDefault();
    const question = els.question.value.trim();
    if (!question) {
      showFormError("Please type a question.");
      els.question.focus();
      return;
    }
    showFormError("");
    if (current) current.abort();
    current = new AbortController();
    resetAnswer();
    const audience = els.form.querySelector("input[name=audience]:checked").value;
    const body = { question: question, audience: audience, k: Number(els.k.value), stream: true };
    setBusy(true, "Searching the evidence…");
    try {
      const response = await fetch("/v1/ask", {
        method: "POST", signal: current.signal,
        headers: headers({ "Content-Type": "application/json", "Accept": "text/event-stream" }),
        body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error(await errorMessage(response));
      await readEvents(response.body, handleEvent);
    } catch (err) {
      if (err.name !== "AbortError") {
        setBusy(false, "");
        showFormError(err.message || String(err));
      }
    }
  }

  async function readEvents(stream, onEvent) {
    const reader = stream.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) onEvent(name, JSON.parse(data.join("\n")));
      }
    }
  }

  function handleEvent(name, data) {
    if (name === "lead" || name === "sentence") {
      // Emergency guidance first, then each sentence once it has passed the citation check.
      if (els.answer.dataset.streaming !== "true") {
        els.answer.textContent = "";
        els.answer.dataset.streaming = "true";
        els.status.textContent = "Checking each sentence against its evidence…";
      }
      const piece = document.createElement(name === "lead" ? "strong" : "span");
      if (name === "lead") {
        piece.textContent = data.text + "\n\n";
      } else {
        // A checked sentence brings the citations it uses first: its [n] markers open the evidence at once.
        for (const citation of data.citations || []) citations.set(citation.n, citation);
        piece.className = "streamed";
        piece.append(...withCitationButtons(data.text), document.createTextNode(" "));
      }
      els.answer.append(piece);
    } else if (name === "answer") {
      renderAnswer(data);
    } else if (name === "error") {
      showFormError(data.detail || "The answer could not be completed.");
    } else if (name === "done") {
      setBusy(false);
    }
  }

  function setBusy(busy, message) {
    els.answer.setAttribute("aria-busy", busy ? "true" : "false");
    els.button.disabled = busy;
    els.button.textContent = busy ? "Asking…" : "Ask";
    if (message !== undefined) els.status.textContent = message;
  }

  function showFormError(message) {
    els.formError.textContent = message;
    els.formError.hidden = !message;
  }

  function resetAnswer() {
    els.results.hidden = false;
    els.answer.textContent = "";
    delete els.answer.dataset.streaming;
    for (const node of [els.concepts, els.sources]) node.replaceChildren();
    els.conceptsBlock.hidden = true;
    els.sourcesBlock.hidden = true;
    els.notes.hidden = true;
    els.safety.hidden = true;
    els.timings.textContent = "";
    closeEvidence(false);
    citations = new Map();
  }

  // --- rendering the final answer -----------------------------------------------------------
  function renderAnswer(answer) {
    citations = new Map(answer.citations.map((c) => [c.n, c]));
    renderFlags(answer.flags || [], answer.text);
    els.answer.replaceChildren(...withCitationButtons(answer.text));
    delete els.answer.dataset.streaming;
    if (answer.abstained) {
      els.notes.textContent = "The retrieved evidence does not answer this question.";
      els.notes.hidden = false;
    }
    renderConcepts(answer.concepts || []);
    renderSources(answer.citations);
    const t = answer.timings || {};
    const parts = [];
    if (t.total_s !== undefined) parts.push("answered in " + Number(t.total_s).toFixed(2) + " s");
    parts.push("generator: " + answer.generator);
    if (answer.index_revision !== null && answer.index_revision !== undefined) parts.push("index revision " + answer.index_revision);
    els.timings.textContent = parts.join(" · ");
    els.status.textContent = answer.citations.length
      ? "Answer ready with " + answer.citations.length + " source" + (answer.citations.length > 1 ? "s" : "") + "."
      : "Answer ready.";
  }

  function withCitationButtons(text) {
    const nodes = [];
    const marker = /\[(\d+(?:\s*,\s*\d+)*)\]/g;
    let last = 0;
    let match;
    while ((match = marker.exec(text)) !== null) {
      if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
      for (const part of match[1].split(",")) {
        const n = Number(part.trim());
        const citation = citations.get(n);
        if (!citation) { nodes.push(document.createTextNode("[" + n + "]")); continue; }
        const button = el("button", {
          type: "button", className: "cite", "data-n": String(n),
          "aria-label": "Citation " + n + ": " + (citation.title || citation.doc_id),
          title: citation.title || citation.doc_id,
        }, "[" + n + "]");
        button.addEventListener("click", () => openEvidence(n, button));
        nodes.push(button);
      }
      last = marker.lastIndex;
    }
    if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
    return nodes;
  }

  function renderFlags(flags, text) {
    const emergencies = flags.filter((f) => f.kind === "emergency");
    if (emergencies.length) {
      els.safety.replaceChildren(el("strong", {}, "Seek help now: "),
        document.createTextNode(emergencies.map((f) => f.message).join(" ")));
      els.safety.hidden = false;
    }
    const other = flags.filter((f) => f.kind !== "emergency" && !text.includes(f.message)).map((f) => f.message);
    if (other.length) {
      els.notes.textContent = other.join(" ");
      els.notes.hidden = false;
    }
  }

  const MAIN_CODES = ["ICD10CM", "MESH", "UMLS", "SNOMEDCT", "HP", "DOID"];

  function renderConcepts(concepts) {
    const seen = new Set();
    for (const concept of concepts) {
      if (seen.has(concept.curie)) continue;
      seen.add(concept.curie);
      const chip = el("li", { className: "chip" });
      chip.append(el("span", { className: "chip-label" }, concept.label));
      const main = [concept.curie];
      const more = [];
      for (const [system, values] of Object.entries(concept.codes || {})) {
        for (const value of values) {
          const code = value.includes(":") ? value : system + ":" + value;
          if (code === concept.curie) continue;
          (MAIN_CODES.includes(system.toUpperCase()) ? main : more).push(code);
        }
      }
      chip.append(el("span", { className: "chip-codes" }, main.join(" · ")));
      const details = [concept.definition, more.length ? "Also: " + more.join(", ") : ""].filter(Boolean);
      if (details.length) chip.title = details.join("\n");
      els.concepts.append(chip);
    }
    els.conceptsBlock.hidden = seen.size === 0;
  }

  function renderSources(list) {
    for (const citation of list) {
      const item = el("li", { value: String(citation.n) });
      const open = el("button", { type: "button", className: "link-button" }, citation.title || citation.doc_id);
      open.addEventListener("click", () => openEvidence(citation.n, open));
      item.append(open);
      const sentence = citation.sentence.length > 140 ? citation.sentence.slice(0, 137) + "…" : citation.sentence;
      item.append(el("q", { className: "source-sentence" }, sentence));
      const meta = el("span", { className: "source-meta" }, [citation.source, citation.doc_id].filter(Boolean).join(" · "));
      if (citation.url) {
        meta.append(document.createTextNode(" · "));
        meta.append(el("a", { href: citation.url, target: "_blank", rel: "noopener noreferrer" }, "original"));
      }
      item.append(meta);
      els.sources.append(item);
    }
    els.sourcesBlock.hidden = list.length === 0;
  }

  // --- evidence card ----------------------------------------------------------------------
  async function fetchDocument(docId) {
    if (documents.has(docId)) return documents.get(docId);
    const response = await fetch("/v1/documents/" + encodeURIComponent(docId), { headers: headers() });
    if (!response.ok) throw new Error(await errorMessage(response));
    const doc = await response.json();
    documents.set(docId, doc);
    return doc;
  }

  async function openEvidence(n, opener) {
    const citation = citations.get(n);
    if (!citation) return;
    lastOpener = opener || null;
    for (const b of document.querySelectorAll(".cite[aria-pressed]")) b.removeAttribute("aria-pressed");
    for (const b of document.querySelectorAll('.cite[data-n="' + n + '"]')) b.setAttribute("aria-pressed", "true");
    els.evidence.hidden = false;
    els.evidenceTitle.textContent = "[" + n + "] " + (citation.title || citation.doc_id);
    els.evidenceMeta.replaceChildren(document.createTextNode([citation.source, citation.doc_id].filter(Boolean).join(" · ") + " "));
    if (citation.url) {
      els.evidenceMeta.append(el("a", { href: citation.url, target: "_blank", rel: "noopener noreferrer" }, "Open the original"));
    }
    els.evidenceSentence.textContent = "";
    els.evidenceText.textContent = "Loading the source…";
    els.evidenceTitle.focus();
    try {
      const doc = await fetchDocument(citation.doc_id);
      if (doc.licence) els.evidenceMeta.append(el("span", { className: "licence" }, " · " + doc.licence));
      showHighlighted(doc.text, citation);
    } catch (err) {
      els.evidenceText.replaceChildren(el("mark", {}, citation.sentence));
      els.evidenceSentence.textContent = "The full source could not be loaded: " + (err.message || err);
    }
  }

  function showHighlighted(text, citation) {
    let start = citation.start;
    let end = citation.end;
    if (!(start >= 0 && end > start && text.slice(start, end) === citation.sentence)) {
      start = text.indexOf(citation.sentence);
      end = start + citation.sentence.length;
    }
    if (start < 0) {
      els.evidenceText.replaceChildren(el("mark", {}, citation.sentence));
      return;
    }
    const mark = el("mark", { id: "evidence-mark" }, text.slice(start, end));
    els.evidenceText.replaceChildren(document.createTextNode(text.slice(0, start)), mark,
      document.createTextNode(text.slice(end)));
    // Scroll the source text (not the page) so the sentence sits in view, then bring the card into view.
    const box = els.evidenceText;
    box.scrollTop = Math.max(0, mark.offsetTop - box.offsetTop - box.clientHeight / 3);
    els.evidence.scrollIntoView({ block: "nearest" });
  }

  function closeEvidence(restoreFocus) {
    els.evidence.hidden = true;
    for (const b of document.querySelectorAll(".cite[aria-pressed]")) b.removeAttribute("aria-pressed");
    if (restoreFocus && lastOpener) lastOpener.focus();
  }

  // --- attribution ------------------------------------------------------------------------
  async function loadAttribution() {
    try {
      const response = await fetch("/v1/attribution");
      if (!response.ok) return;
      const body = await response.json();
      els.attribution.replaceChildren(...body.attribution.map((item) => el("li", {}, item.attribution)));
    } catch (_) {
      /* the footer keeps its static disclaimer */
    }
  }

  // --- wiring -----------------------------------------------------------------------------
  els.form.addEventListener("submit", ask);
  els.question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      els.form.requestSubmit();
    }
  });
  els.evidenceClose.addEventListener("click", () => closeEvidence(true));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !els.evidence.hidden) closeEvidence(true);
  });
  try {
    const saved = sessionStorage.getItem("ragmed-api-key");
    if (saved) els.key.value = saved;
    els.key.addEventListener("change", () => sessionStorage.setItem("ragmed-api-key", els.key.value));
  } catch (_) {
    /* storage may be unavailable in an embedded frame */
  }
  loadAttribution();
})();
