"""Training the triage classifiers (``ragmed train triage``): deterministic for a seed, seconds once the bank
is embedded (the embeddings are cached with the index root's embedding cache).

Each bank text gives up to four training rows, as the question can reach the triage: its own embedding
without concepts (an index without an ontology), with its linked concepts, the embedding of the expanded
query retrieval embeds (so the triage can reuse retrieval's embedding), and the text written with a capital
and a question mark or full stop (the bank is mostly typed fast). Neighbour similarities leave the text
itself out. scikit-learn is needed here only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ragmed.embedding import Embedder, EmbeddingCache, embed_with_cache
from ragmed.safety.bank import PERSONAL_KINDS, SafetyBank
from ragmed.safety.model import WEIGHTS, save_weights
from ragmed.safety.rows import bank_rows, restyle
from ragmed.safety.semantic import NONE
from ragmed.safety.triage_features import ConceptCategories, NeighbourFeatures, feature_vector
from ragmed.types import Concept

if TYPE_CHECKING:
    from ragmed.safety.train_encoder import EncoderConfig

def train_triage(bank: SafetyBank, embedder: Embedder, *, seed: int = 0, cache: EmbeddingCache | None = None,
                 link: Callable[[str], tuple[str, list[Concept]]] | None = None,
                 concepts: ConceptCategories | None = None, c: float = 0.5, folder: Path = WEIGHTS,
                 operating_point: dict[str, float] | None = None, held_out: Iterable[str] = (),
                 evaluate: Callable[[Path], dict[str, Any]] | None = None,
                 encoder: EncoderConfig | None = None) -> dict[str, Any]:
    """Train both linear classifiers (and the fine-tuned one) on the bank and save them with their manifest.

    Args:
        bank: the safety bank.
        embedder: the embedder the triage will run with.
        seed: seed of the solver.
        cache: embedding cache (the bank is embedded once).
        link: ``text -> (expanded query text, linked concepts)``, as retrieval expands queries; None
            trains without concept rows.
        concepts: category membership of concepts (needed with ``link``).
        c: inverse regularisation strength of both classifiers.
        folder: where to write ``triage.npz`` and ``triage.json``.
        operating_point: thresholds to record (see ``OperatingPoint``).
        held_out: evaluation questions; bank texts (nearly) equal to one are left out of training.
        evaluate: called with ``folder`` after saving; its figures (the dev half) go into the manifest.
        encoder: how to train the fine-tuned classifier (``ragmed.safety.train_encoder``); None keeps the one
            in ``folder``.

    Returns:
        The manifest written.
    """
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    rows, group_names = bank_rows(bank, held_out)
    categories = list(bank.category_ids)
    concepts = concepts or ConceptCategories({}, categories)
    raw, _ = embed_with_cache(embedder, rows.texts, cache)
    neighbours = NeighbourFeatures(raw, np.asarray(rows.groups), len(group_names))
    styled_texts = sorted({restyle(t) for t in rows.texts} - set(rows.texts))
    styled_vectors, _ = embed_with_cache(embedder, styled_texts, cache)
    styled = dict(zip(styled_texts, styled_vectors, strict=True))
    linked = [link(t) for t in rows.texts] if link else [(t, []) for t in rows.texts]
    expanded_texts = sorted({text for (text, _), raw_text in zip(linked, rows.texts, strict=True) if text != raw_text})
    expanded_vectors, _ = embed_with_cache(embedder, expanded_texts, cache)
    expanded = dict(zip(expanded_texts, expanded_vectors, strict=True))
    x, y_emergency, y_personal = [], [], []
    no_concepts = np.zeros(len(categories), dtype=np.float32)
    for i, text in enumerate(rows.texts):
        expanded_text, found = linked[i]
        hits = concepts.vector(found)
        variants = [(raw[i], no_concepts, text)]
        if hits.any():
            variants.append((raw[i], hits, text))
        if expanded_text in expanded:
            variants.append((expanded[expanded_text], hits, text))
        if restyle(text) in styled:
            variants.append((styled[restyle(text)], hits, restyle(text)))
        for vector, concept_hits, written in variants:
            x.append(feature_vector(vector, neighbours, concept_hits, written, exclude=[i]))
            y_emergency.append(rows.emergency[i])
            y_personal.append(rows.personal[i])
    matrix = np.vstack(x)
    mean, scale = matrix.mean(axis=0), matrix.std(axis=0) + 1e-3
    standard = (matrix - mean) / scale
    arrays: dict[str, np.ndarray] = {"bank_embeddings": raw.astype(np.float16),
                                     "bank_groups": np.asarray(rows.groups, dtype=np.int16),
                                     "mean": mean.astype(np.float32), "scale": scale.astype(np.float32)}
    classes: dict[str, list[str]] = {}
    for name, labels, order in (("emergency", y_emergency, [*categories, NONE]),
                                ("personal", y_personal, [*PERSONAL_KINDS, NONE])):
        model = LogisticRegression(C=c, max_iter=3000, random_state=seed)
        model.fit(standard, np.asarray(labels))
        position = [list(model.classes_).index(k) for k in order]
        arrays[f"{name}_weights"] = model.coef_[position].astype(np.float32)
        arrays[f"{name}_bias"] = model.intercept_[position].astype(np.float32)
        classes[f"{name}_classes"] = order
    manifest: dict[str, Any] = {
        "model": "multinomial logistic regression over [sentence embedding, mean top-3 cosine per bank group, "
                 "concept categories, wording cues], standardised",
        "embedding_model": embedder.model_id, "embedding_dimension": int(raw.shape[1]), "seed": seed, "c": c,
        "bank_sha256": bank.checksum(), "groups": group_names, **classes,
        "training": {"bank_texts": len(rows.texts), "rows": len(x), "expanded_texts": len(expanded_texts),
                     "restyled_texts": len(styled_texts),
                     "concepts": bool(link), "excluded_as_evaluation_text": len(rows.excluded)},
        "operating_point": operating_point or {"emergency": 0.5, "emergency_clinician": 0.5, "personal": 0.5,
                                               "second": 0.6},
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    if encoder is not None:
        from ragmed.safety.train_encoder import train_encoder

        train_encoder(rows, classes["emergency_classes"], classes["personal_classes"], folder, encoder,
                      bank.checksum())
        manifest["train_seconds"] = round(time.perf_counter() - started, 1)
    stored = folder / "triage_encoder.json"
    if stored.exists():
        trained = json.loads(stored.read_text(encoding="utf-8"))
        manifest["encoder"] = {k: trained.get(k) for k in ("data_sha256", "steps", "total_steps", "finished",
                                                          "train_seconds", "weights_sha256")}
    save_weights(folder, "triage", arrays, manifest)
    if evaluate is not None:
        manifest["dev_metrics"] = evaluate(folder)
        save_weights(folder, "triage", arrays, manifest)
    return manifest
