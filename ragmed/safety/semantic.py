"""The default triage backend: linked concepts + the question's sentence embedding + similarity to the bank,
scored by two small trained classifiers (emergency category, personal-request kind), blended with a fine-tuned
transformer that reads the question itself, the rules as a floor.

The linear classifiers are plain numpy over weights loaded from ``weights/triage.npz``; their embedding comes
from the embedder already loaded (and from its query cache when retrieval embedded the same text). The
fine-tuned classifier (``ragmed.safety.encoder``) runs one MiniLM pass over the question.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ragmed.embedding import Embedder
from ragmed.errors import ConfigError
from ragmed.safety.bank import SafetyBank
from ragmed.safety.encoder import TriageEncoder
from ragmed.safety.model import WEIGHTS, load_weights
from ragmed.safety.rule_triage import check_request, decline, emergency
from ragmed.safety.rules import rule_categories, rule_personal
from ragmed.safety.triage import TriageResult
from ragmed.safety.triage_features import ConceptCategories, NeighbourFeatures, feature_vector
from ragmed.types import Audience, Concept

NONE = "none"


URGENT = ("self_harm", "overdose_poisoning")
"""Categories shown at the lower ``OperatingPoint.urgent`` threshold."""


@dataclass(frozen=True)
class OperatingPoint:
    """Thresholds on the classifiers' probabilities (chosen on the dev half of the safety set).

    Attributes:
        emergency: P(any emergency) at or above which guidance is shown to the public.
        emergency_clinician: the same for clinicians, who ask about emergencies more often than they have one.
        personal: P(personal request) at or above which the public is declined.
        second: a second category is shown too when its probability is at least this share of the first's.
        urgent: P(self-harm) or P(overdose or poisoning) at or above which that category's guidance is shown to
            the public even below ``emergency``: a crisis line or poison control number shown to someone who did
            not need it costs little, one missed can cost a life.
        encoder: the fine-tuned classifier's share of the blended probabilities (0: the linear classifiers
            alone, 1: the fine-tuned one alone).
        agreement: on the ``urgent`` path each classifier on its own must give the category at least this
            probability. The urgent threshold is low, and a low blended score carried by one classifier while
            the other sees nothing is how a single word misleads one of them ("dying to know", "how many
            people die of"); a category either is confident about still reaches ``emergency``. 0 leaves the
            blend alone; it applies only when both classifiers run.
    """

    emergency: float = 0.5
    emergency_clinician: float = 0.5
    personal: float = 0.5
    second: float = 0.6
    urgent: float = 1.0
    encoder: float = 0.0
    agreement: float = 0.0

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], **overrides: float | None) -> OperatingPoint:
        point = {**manifest.get("operating_point", {}), **{k: v for k, v in overrides.items() if v is not None}}
        return cls(**{k: float(v) for k, v in point.items() if k in cls.__dataclass_fields__})


class LinearSoftmax:
    """A multinomial logistic regression: ``softmax(W @ standardised(x) + b)``."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray, classes: Sequence[str]) -> None:
        if weights.shape[0] != len(classes) or bias.shape[0] != len(classes):
            raise ConfigError(f"classifier has {weights.shape[0]} rows for {len(classes)} classes")
        self.weights, self.bias, self.classes = weights.astype(np.float32), bias.astype(np.float32), list(classes)

    def __call__(self, x: np.ndarray) -> dict[str, float]:
        logits = np.einsum("ij,j->i", self.weights, x) + self.bias
        p = np.exp(logits - logits.max())
        p /= p.sum()
        return {c: float(v) for c, v in zip(self.classes, p, strict=True)}


class SemanticTriage:
    """Triage by trained classifiers over concepts, sentence embedding and bank similarity.

    Args:
        bank: the safety bank (guidance, sources, personal replies).
        embedder: the loaded sentence embedder (``encode_query``).
        concepts: category membership of ontology concepts; None when no concept store is at hand.
        folder: where ``triage.npz``/``triage.json`` (and ``triage_encoder.*``) are.
        point: thresholds; the manifest's operating point when None.

    Raises:
        ConfigError: weights missing, or trained for another embedding model or another bank; the fine-tuned
            classifier missing or damaged while the operating point gives it a share.

    Example:
        >>> triage = SemanticTriage(bank, embedder)  # doctest: +SKIP
        >>> triage.assess("she's 12 kg, how much calpol", "public").decline.kind  # doctest: +SKIP
        'weight_age_dose'
    """

    name = "semantic"

    def __init__(self, bank: SafetyBank, embedder: Embedder, concepts: ConceptCategories | None = None,
                 folder: Path = WEIGHTS, point: OperatingPoint | None = None) -> None:
        arrays, manifest = load_weights(folder, "triage")
        if manifest.get("embedding_model") != embedder.model_id:
            raise ConfigError(f"the triage weights were trained on {manifest.get('embedding_model')!r} embeddings, "
                              f"the embedder is {embedder.model_id!r}; run `ragmed train triage`")
        categories = list(manifest["emergency_classes"][:-1])
        if sorted(categories) != sorted(bank.category_ids):
            raise ConfigError("the triage weights were trained on other categories than the bank's; "
                              "run `ragmed train triage`")
        self.bank, self.embedder, self.manifest = bank, embedder, manifest
        self.categories = categories
        self.concepts = concepts if concepts is not None else ConceptCategories({}, categories)
        if self.concepts.categories != tuple(categories):
            raise ConfigError("concept categories are not in the classifier's order")
        self.point = point or OperatingPoint.from_manifest(manifest)
        self.neighbours = NeighbourFeatures(arrays["bank_embeddings"].astype(np.float32), arrays["bank_groups"],
                                            len(manifest["groups"]))
        self.mean, self.scale = arrays["mean"].astype(np.float32), arrays["scale"].astype(np.float32)
        self.emergency = LinearSoftmax(arrays["emergency_weights"], arrays["emergency_bias"],
                                       manifest["emergency_classes"])
        self.personal = LinearSoftmax(arrays["personal_weights"], arrays["personal_bias"],
                                      manifest["personal_classes"])
        self.folder = folder
        self._encoder: TriageEncoder | None = None
        if self.point.encoder > 0:
            self.encoder()

    def encoder(self) -> TriageEncoder:
        """The fine-tuned classifier (loaded once).

        Raises:
            ConfigError: its weights are missing, damaged, or trained on other classes.
        """
        if self._encoder is None:
            encoder = TriageEncoder.load(self.folder)
            if (encoder.net.emergency_classes != self.emergency.classes
                    or encoder.net.personal_classes != self.personal.classes):
                raise ConfigError("the fine-tuned triage classifier was trained on other classes than the linear "
                                  "ones; run `ragmed train triage`")
            self._encoder = encoder
        return self._encoder

    def probabilities(self, question: str, concepts: Sequence[Concept] = (),
                      embed_text: str | None = None) -> tuple[dict[str, float], dict[str, float]]:
        """Each emergency category's and personal kind's probability, the classifiers blended."""
        blended, _ = self.probabilities_and_agreement(question, concepts, embed_text)
        return blended

    def probabilities_and_agreement(self, question: str, concepts: Sequence[Concept] = (), embed_text: str | None = None
                                    ) -> tuple[tuple[dict[str, float], dict[str, float]], dict[str, float]]:
        """The blended probabilities, and each emergency category's lower probability of the two classifiers
        (1.0 when only the linear one runs: the agreement then does not apply)."""
        x = self.features(question, concepts, embed_text)
        p_emergency, p_personal = self.emergency(x), self.personal(x)
        share = self.point.encoder
        if share <= 0:
            return (p_emergency, p_personal), dict.fromkeys(p_emergency, 1.0)
        e_encoder, p_encoder = self.encoder()(question)
        lower = {c: min(p, e_encoder[c]) for c, p in p_emergency.items()}
        p_emergency = {c: (1 - share) * p + share * e_encoder[c] for c, p in p_emergency.items()}
        p_personal = {c: (1 - share) * p + share * p_encoder[c] for c, p in p_personal.items()}
        return (p_emergency, p_personal), lower

    def features(self, question: str, concepts: Sequence[Concept] = (), embed_text: str | None = None) -> np.ndarray:
        """The standardised classifier input for ``question``."""
        embedding = self.embedder.encode_query(embed_text or question)
        x = feature_vector(embedding, self.neighbours, self.concepts.vector(concepts), question)
        return (x - self.mean) / self.scale

    def assess(self, question: str, audience: Audience, concepts: Sequence[Concept] = (),
               embed_text: str | None = None) -> TriageResult:
        started = time.perf_counter()
        check_request(question, audience)
        (p_emergency, p_personal), lower = self.probabilities_and_agreement(question, concepts, embed_text)
        any_emergency = 1.0 - p_emergency[NONE]
        threshold = self.point.emergency if audience == "public" else self.point.emergency_clinician
        ranked = sorted(((p, c) for c, p in p_emergency.items() if c != NONE), reverse=True)
        chosen: list[tuple[str, float, bool]] = []
        if any_emergency >= threshold:
            chosen.append((ranked[0][1], any_emergency, False))
            if len(ranked) > 1 and ranked[1][0] >= self.point.second * ranked[0][0]:
                chosen.append((ranked[1][1], ranked[1][0], False))
        if audience == "public":
            for category in URGENT:
                if (p_emergency.get(category, 0.0) >= self.point.urgent and lower.get(category, 0.0) >= self.point.agreement
                        and category not in {c for c, _, _ in chosen}):
                    chosen.append((category, p_emergency[category], False))
        for category in rule_categories(question):
            if category in self.bank.category_ids and category not in {c for c, _, _ in chosen}:
                chosen.append((category, 1.0, True))
        result = TriageResult(emergencies=[emergency(self.bank, c, s, r) for c, s, r in chosen],
                              scores={c: round(p, 4) for c, p in p_emergency.items() if c != NONE}, backend=self.name)
        result.scores["emergency"] = round(any_emergency, 4)
        any_personal = 1.0 - p_personal[NONE]
        result.scores["personal"] = round(any_personal, 4)
        if audience == "public":
            kind = rule_personal(question)
            if kind is not None:
                result.decline = decline(self.bank, kind, 1.0, True)
            elif any_personal >= self.point.personal:
                best = max((p, k) for k, p in p_personal.items() if k != NONE)[1]
                result.decline = decline(self.bank, best, any_personal, False)
        result.seconds = time.perf_counter() - started
        return result
