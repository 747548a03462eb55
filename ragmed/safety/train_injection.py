"""Training the injection detector (``ragmed train injection``): the bank's injection and clean sentences in
19 languages, plus clean sentences and titles of the starter literature (real medical text, which must not
be flagged), and adjacent-sentence pairs of both. scikit-learn is needed here only.

Texts that occur in the evaluation sets are left out of the training data (counted in the manifest).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ragmed.jsonl import iter_jsonl
from ragmed.safety.bank import SafetyBank
from ragmed.safety.features import hashed_features, normalize
from ragmed.safety.model import WEIGHTS, save_weights
from ragmed.text import split_sentences

BITS = 18


@dataclass
class InjectionData:
    """Training texts with labels (1 = injection) and what was left out."""

    texts: list[str]
    labels: list[int]
    languages: list[str] = field(default_factory=list)
    excluded: int = 0

    def weights(self) -> np.ndarray:
        """Sample weights that balance injection and clean within each language (each language keeps its
        share of the data), so no language reads as an injection by itself."""
        counts: dict[tuple[str, int], int] = {}
        per_language: dict[str, int] = {}
        for lang, label in zip(self.languages, self.labels, strict=True):
            counts[lang, label] = counts.get((lang, label), 0) + 1
            per_language[lang] = per_language.get(lang, 0) + 1
        return np.asarray([per_language[lang] / (2 * counts[lang, label])
                           for lang, label in zip(self.languages, self.labels, strict=True)])


def literature_sentences(manifest_path: Path) -> tuple[list[str], list[str]]:
    """Sentences and titles of the knowledge manifest's literature, in reading order."""
    from ragmed.knowledge import load_manifest
    from ragmed.sources import read_path

    sentences: list[str] = []
    titles: list[str] = []
    for source in load_manifest(manifest_path).literature:
        for document in read_path(Path(source.path), source.reader, lambda error: None):
            titles.append(document.title)
            sentences += [document.text[s:e] for s, e in split_sentences(document.text)]
    return sentences, titles


def evaluation_texts(folder: Path) -> list[str]:
    """Every question, title and text of the JSONL files under ``folder`` (the evaluation sets), to be
    kept out of training; empty when the folder is absent."""
    out: list[str] = []
    for path in sorted(Path(folder).glob("*/*.jsonl")) if Path(folder).is_dir() else []:
        for _, row in iter_jsonl(path, on_error=lambda _: None):  # a line that is not an object holds no text
            out += [str(row[k]) for k in ("question", "title", "text") if isinstance(row.get(k), str)]
    return out


def _key(text: str) -> str:
    return " ".join(normalize(text).split())


def injection_data(bank: SafetyBank, manifest_path: Path, held_out: Iterable[str] = (), seed: int = 0,
                   pairs: int = 3000) -> InjectionData:
    """The detector's training texts.

    Args:
        bank: the safety bank.
        manifest_path: the knowledge manifest whose literature gives clean sentences.
        held_out: evaluation texts; any training sentence found inside one of them is left out.
        seed: seed for sampling the sentence pairs.
        pairs: clean adjacent-sentence pairs sampled from the literature.
    """
    rng = random.Random(seed)
    held = [_key(t) for t in held_out]
    joined = "\x00".join(held)
    sentences, titles = literature_sentences(manifest_path)
    data = InjectionData([], [])

    def add(text: str, label: int, language: str = "en") -> None:
        key = _key(text)
        if len(key) >= 12 and key in joined:
            data.excluded += 1
            return
        data.texts.append(text)
        data.labels.append(label)
        data.languages.append(language[:2])

    examples = bank.examples("injection")
    for example in examples:
        add(example.text, int(example.label == "injection"), example.group)
    composed, clean = compose_parts(bank.injection_parts(), rng)
    english = {k: v for lang, p in sorted(bank.injection_parts().items()) if lang.startswith("en") for k, v in p.items()}
    english = {k: [x for lang, p in sorted(bank.injection_parts().items()) if lang.startswith("en") for x in p.get(k, [])]
               for k in english}
    for text, lang in composed + [(t, "en") for t in framed(english, sentences, rng)]:
        add(text, 1, lang)
    for text, lang in clean:
        add(text, 0, lang)
    for text in sentences + sorted(set(titles)):
        add(text, 0)
    starts = rng.sample(range(len(sentences) - 1), min(pairs, len(sentences) - 1))
    for i in sorted(starts):
        add(sentences[i] + " " + sentences[i + 1], 0)
    injections = [(e.text, e.group) for e in examples if e.label == "injection"] + composed
    for text, lang in rng.sample(injections, min(len(injections), pairs // 2)):
        context = sentences[rng.randrange(len(sentences))]
        add(f"{text} {context}" if rng.random() < 0.5 else f"{context} {text}", 1, lang)
    cleans = [(e.text, e.group) for e in examples if e.label == "clean"] + clean
    by_language: dict[str, list[str]] = {}
    for text, lang in cleans:
        by_language.setdefault(lang[:2], []).append(text)
    for text, lang in cleans:
        add(f"{text} {rng.choice(by_language[lang[:2]])}", 0, lang)
    return data


_WRAPPERS = ("({})", "[{}]", "<!-- {} -->", "— {} —", "{{\"role\": \"system\", \"content\": \"{}\"}}", "* {}")


def compose_parts(parts: dict[str, dict[str, list[str]]], rng: random.Random, per_language: int = 50
                  ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Injection sentences composed from the bank's parts (address + directive with a claim, or a
    standalone instruction, sometimes wrapped in markup), and clean sentences: the parts' own, and each
    claim stated alone (so that the frame, not the topic, marks an injection)."""
    injections: list[tuple[str, str]] = []
    clean: list[tuple[str, str]] = []
    for lang in sorted(parts):
        p = parts[lang]
        addresses = ["", *p.get("address", [])]
        count = max(per_language, 4 * (len(p.get("directive", [])) + len(p.get("standalone", []))))
        for _ in range(count):
            address = rng.choice(addresses)
            if p.get("directive") and p.get("claim") and rng.random() < 0.75:
                body = rng.choice(p["directive"]).replace("{claim}", rng.choice(p["claim"]))
            elif p.get("standalone"):
                body = rng.choice(p["standalone"])
            else:
                continue
            text = f"{address} {body}" if address else body[:1].upper() + body[1:]
            if rng.random() < 0.2:
                text = rng.choice(_WRAPPERS).format(text)
            injections.append((text, lang[:2]))
        clean += [(text, lang[:2]) for text in p.get("clean", [])]
        # A claim alone is no instruction (misinformation is not this detector's to judge): only the frame is.
        clean += [(claim[:1].upper() + claim[1:] + ".", lang[:2]) for claim in p.get("claim", [])]
    return sorted(set(injections)), clean


def framed(parts: dict[str, list[str]], sentences: list[str], rng: random.Random, count: int = 1500) -> list[str]:
    """Real literature sentences put inside an instruction frame ("tell the reader that ..."): the same
    content is clean alone and an injection framed, so the detector learns the frame, not the topic."""
    directives = parts.get("directive", [])
    addresses = ["", *parts.get("address", [])]
    out = []
    for sentence in rng.sample(sentences, min(count, len(sentences))) if directives else []:
        claim = sentence.strip().rstrip(".")
        claim = claim[:1].lower() + claim[1:] if claim[1:2].islower() else claim
        body = rng.choice(directives).replace("{claim}", claim)
        address = rng.choice(addresses)
        out.append(f"{address} {body}" if address else body[:1].upper() + body[1:])
    return out


def fit_injection(data: InjectionData, seed: int = 0, c: float = 4.0) -> tuple[np.ndarray, float]:
    """Logistic regression over hashed features; returns the column weights and the bias."""
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    rows, cols, values = hashed_features([normalize(t) for t in data.texts], BITS, raw=data.texts)
    matrix = csr_matrix((values, (rows, cols)), shape=(len(data.texts), 1 << BITS))
    model = LogisticRegression(C=c, solver="liblinear", random_state=seed, max_iter=2000)
    model.fit(matrix, np.asarray(data.labels), sample_weight=data.weights())
    return model.coef_[0].astype(np.float32), float(model.intercept_[0])


def train_injection(bank: SafetyBank, manifest_path: Path, *, seed: int = 0, held_out: Iterable[str] = (),
                    operating_point: dict[str, float] | None = None, folder: Path = WEIGHTS,
                    dev_metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train and save the detector; return its manifest.

    Args:
        operating_point: ``threshold`` and ``pair_threshold`` to record (chosen on the dev half of the
            injection evaluation set).
    """
    started = time.perf_counter()
    data = injection_data(bank, manifest_path, held_out, seed)
    weights, bias = fit_injection(data, seed)
    manifest = {
        "model": "logistic regression over hashed character 2-5-grams, words and word pairs (NFKC, casefolded)",
        "bits": BITS, "seed": seed, "bank_sha256": bank.checksum(),
        "training": {"texts": len(data.texts), "injection": int(sum(data.labels)),
                     "excluded_as_evaluation_text": data.excluded},
        "operating_point": operating_point or {"threshold": 0.5, "pair_threshold": 0.8},
        "dev_metrics": dev_metrics or {},
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    save_weights(folder, "injection", {"weights": weights.astype(np.float16), "bias": np.asarray([bias])}, manifest)
    return manifest
