"""Verifier backends behind one interface, the shipped weights' integrity, claims inside sentences, the topic
check on the real ontologies, and verifier training (deterministic, resumable, with a manifest)."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from ragmed.config import VerifierSettings
from ragmed.errors import ConfigError
from ragmed.types import Concept, Document, Passage
from ragmed.verify import ClaimPair, Verifier, make_verifier
from ragmed.verify.claims import atomic_claims, split_run_on
from ragmed.verify.cross_encoder import CrossEncoderVerifier
from ragmed.verify.data import Example, PairBuilder, further_mix, split_of
from ragmed.verify.lexical import LexicalVerifier, misquote
from ragmed.verify.topic import TopicJudge, document_focus
from ragmed.verify.trained import PACKAGED, verify_weights

EVIDENCE = ("Gout is a common, painful form of arthritis. It causes swollen, red, hot and stiff joints. "
            "Gout happens when uric acid builds up in your body.")


class VerifierContract:
    """What every verifier backend must do; subclasses provide ``verifier``."""

    @pytest.fixture()
    def backend(self) -> Verifier:
        raise NotImplementedError

    def test_it_is_a_verifier(self, backend) -> None:  # type: ignore[no-untyped-def]
        assert isinstance(backend, Verifier) and backend.name

    def test_one_verdict_per_pair_with_a_span_inside_the_evidence(self, backend) -> None:  # type: ignore[no-untyped-def]
        pairs = [ClaimPair("Gout causes swollen, red joints.", EVIDENCE, "What is gout?", "Gout"),
                 ClaimPair("Gout is caused by a virus.", EVIDENCE), ClaimPair("Insulin lowers blood sugar.", "")]
        verdicts = backend.support(pairs)
        assert len(verdicts) == 3
        for pair, v in zip(pairs, verdicts):
            assert 0.0 <= v.probability <= 1.0
            assert 0 <= v.start <= v.end <= len(pair.evidence)
        assert verdicts[2].probability == pytest.approx(0.0, abs=1e-6) or verdicts[2].end == 0

    def test_a_stated_claim_outscores_an_unstated_one(self, backend) -> None:  # type: ignore[no-untyped-def]
        stated, unstated = backend.support([ClaimPair("Gout causes swollen, red and stiff joints.", EVIDENCE),
                                            ClaimPair("Gout causes hair loss and blurred vision.", EVIDENCE)])
        assert stated.probability > unstated.probability
        assert "It causes swollen, red, hot and stiff joints." in EVIDENCE[stated.start:stated.end]

    def test_no_pairs_no_verdicts(self, backend) -> None:  # type: ignore[no-untyped-def]
        assert backend.support([]) == []


class TestLexicalVerifier(VerifierContract):
    @pytest.fixture()
    def backend(self, embedder) -> Verifier:  # type: ignore[no-untyped-def]
        return LexicalVerifier(embedder)


@pytest.mark.integration
class TestTrainedVerifier(VerifierContract):
    @pytest.fixture()
    def backend(self, verifier) -> Verifier:  # type: ignore[no-untyped-def]
        return verifier  # type: ignore[no-any-return]

    def test_negation_number_and_population_changes_are_rejected(self, backend) -> None:  # type: ignore[no-untyped-def]
        evidence = "In a trial of 400 adults, daily aspirin reduced recurrent stroke from 12% to 8%."
        claims = ["In adults, daily aspirin reduced recurrent stroke from 12% to 8%.",
                  "Daily aspirin did not reduce recurrent stroke.", "Daily aspirin reduced recurrent stroke in children."]
        ok, negated, population = backend.support([ClaimPair(c, evidence) for c in claims])
        assert ok.probability >= 0.5, ok
        assert negated.probability < 0.5 and population.probability < 0.5


@pytest.mark.integration
class TestAnyCrossEncoderFolder(VerifierContract):
    """A CrossEncoder folder without ragmed's manifest is read as natural language inference."""

    @pytest.fixture(scope="class")
    def backend(self, tmp_path_factory) -> Verifier:  # type: ignore[no-untyped-def]
        folder = tmp_path_factory.mktemp("nli") / "model"
        shutil.copytree(PACKAGED, folder)
        (folder / "manifest.json").unlink()
        verifier = CrossEncoderVerifier(folder)
        assert not verifier.ragmed_format
        return verifier

    def test_a_stated_claim_outscores_an_unstated_one(self, backend, verifier) -> None:  # type: ignore[no-untyped-def]
        # No NLI model ships offline, so the stand-in is ragmed's own weights read as a plain CrossEncoder: the
        # window first and the claim second, without ragmed's "claim:" segment. Its scores mean nothing in that
        # reading; what is checked is that the plain reading is the one used.
        pair = ClaimPair("Gout causes swollen, red and stiff joints.", EVIDENCE)
        assert backend.support([pair])[0].probability != pytest.approx(verifier.support([pair])[0].probability, abs=1e-3)


def test_damaged_or_missing_weights_are_an_error_at_start_never_a_silent_switch(tmp_path: Path) -> None:
    folder = tmp_path / "verifier"
    shutil.copytree(PACKAGED, folder)
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="damaged"):
        make_verifier(VerifierSettings(model_path=folder))
    (folder / "manifest.json").unlink()
    with pytest.raises(ConfigError, match="manifest.json is missing"):
        make_verifier(VerifierSettings(model_path=folder))
    assert make_verifier(VerifierSettings(model_path=folder, lexical_fallback=True)).name == "lexical"
    with pytest.raises(ConfigError, match="model_path"):
        make_verifier(VerifierSettings(backend="cross-encoder"))


def test_the_shipped_weights_match_their_manifest() -> None:
    manifest = verify_weights(PACKAGED)
    assert manifest["name"] == "ragmed-verifier" and manifest["seed"] == 0
    assert manifest["metrics"]["test"]["support"]["n"] > 1000


def test_list_items_and_clauses_are_claims_of_their_own() -> None:
    listed = atomic_claims("Symptoms include thirst, hunger and blurry eyesight.")
    assert listed.kind == "list" and listed.claims == [
        "Symptoms include thirst.", "Symptoms include hunger.", "Symptoms include blurry eyesight."]
    assert listed.rebuild([True, False, True], "x") == "Symptoms include thirst and blurry eyesight."
    assert listed.rebuild([False, False, False], "x") is None
    clauses = atomic_claims("Antibiotics treat bacterial pneumonia; antivirals treat viral pneumonia.")
    assert clauses.kind == "clauses" and len(clauses.claims) == 2
    assert clauses.rebuild([True, False], "x") is None
    bullets = "Symptoms include - Being very thirsty - Urinating often - Blurry eyesight A blood test can show it."
    assert split_run_on(bullets) == ["Symptoms include - Being very thirsty - Urinating often - Blurry eyesight.",
                                     "A blood test can show it."]
    adhd = "Children with ADHD may have problems - Inattention - Hyperactivity - Impulsivity No one knows the cause."
    assert split_run_on(adhd) == ["Children with ADHD may have problems - Inattention - Hyperactivity - Impulsivity.",
                                  "No one knows the cause."]
    assert split_run_on("Symptoms include - Wheezing - Pain when I breathe in deeply.") == [
        "Symptoms include - Wheezing - Pain when I breathe in deeply."]


def test_a_list_keeps_the_words_that_say_what_it_lists() -> None:
    # the items of "is based on" are what it is based on, not what it is
    based = atomic_claims("The diagnosis of asthma is based on your history, an examination and lung function tests.")
    assert based.claims == ["The diagnosis of asthma is based on your history.",
                            "The diagnosis of asthma is based on an examination.",
                            "The diagnosis of asthma is based on lung function tests."]
    assert based.rebuild([False, True, False], "x") == "The diagnosis of asthma is based on an examination."
    # examples inside an opening "If ..." clause are not the sentence's statement: it is one claim
    call = "If you have symptoms of flu, such as fever, chest pain, or confusion, call 911 immediately."
    assert atomic_claims(call).claims == [call]
    # a bulleted list is headed by all that its list word ends, whatever commas come before
    assert atomic_claims("Signs that it is not the flu, but a cold, include - Rash - Sneezing - Ear pain.").claims[0] == (
        "Signs that it is not the flu, but a cold, include rash.")


@pytest.mark.integration
def test_a_document_focus_comes_from_its_cuis_and_stays_specific(concepts) -> None:  # type: ignore[no-untyped-def]
    type1 = Document(id="t1", source="medquad", title="What is (are) Diabetes Type 1 ?", text="x",
                     metadata={"cuis": ["C0011854"]})
    assert document_focus(type1, concepts) == ["DOID:9744", "HP:0100651"]
    judge = TopicJudge(concepts)
    question = judge.conditions("What are the symptoms of type 2 diabetes?")
    page = Passage(chunk_id=1, doc_id="t1", text="", score=1.0, start=0, end=0, title=type1.title,
                   metadata={"focus": ["DOID:9744"]})
    general = Passage(chunk_id=2, doc_id="d", text="", score=1.0, start=0, end=0, title="Diabetes",
                      metadata={"focus": ["DOID:9351"]})
    assert judge.off_topic(question, page, "You will need insulin for the rest of your life.")
    assert not judge.off_topic(question, page, "With type 1 diabetes you will need insulin for life.")
    assert not judge.off_topic(question, general, "Diabetes means your blood glucose is too high.")
    assert not judge.off_topic(set(), page, "Anything at all.")


@pytest.mark.integration
def test_acute_and_chronic_bronchitis_are_told_apart_where_one_concept_lumps_them(concepts) -> None:  # type: ignore[no-untyped-def]
    judge = TopicJudge(concepts)
    # The Disease Ontology's bronchitis lists acute and chronic bronchitis as synonyms; the HPO names each.
    chronic = judge.conditions("What is the difference between chronic bronchitis and emphysema?")
    assert "HP:0004469" in chronic and "HP:0012388" not in chronic
    assert judge.conditions("What causes bronchitis?") >= {"DOID:6132", "HP:0012387"}
    # The acute bronchitis page, as the index stores it: its focus from its CUI (the lumping DO concept).
    acute = Passage(chunk_id=1, doc_id="medquad:MPlusHealthTopics/0000008-1", text="", score=1.0, start=0, end=0,
                    title="What is (are) Acute Bronchitis ?", metadata={"focus": ["DOID:6132"]})
    causes = "It can be caused by smoking, air pollution, and exposure to tobacco smoke."
    assert judge.off_topic(chronic, acute, causes)
    assert not judge.off_topic(chronic, acute, "Acute bronchitis can be caused by tobacco smoke.")
    assert not judge.off_topic(judge.conditions("What causes bronchitis?"), acute, causes)
    assert not judge.off_topic(judge.conditions("How long does acute bronchitis last?"), acute, causes)
    # A page known in the Disease Ontology only is still judged by it.
    lung = Passage(chunk_id=2, doc_id="lung", text="", score=1.0, start=0, end=0, title="What is (are) Lung Cancer ?",
                   metadata={"focus": ["DOID:1324"]})
    for question in ("What is malignant melanoma?", "What is preeclampsia?"):
        assert any(c.startswith("DOID:") for c in judge.conditions(question)), question
        assert judge.off_topic(judge.conditions(question), lung, "It can be caused by smoking."), question
    assert judge.off_topic(chronic, lung, "It can be caused by smoking.")


@pytest.mark.integration
def test_a_condition_only_hpo_names_still_decides_the_topic(concepts) -> None:  # type: ignore[no-untyped-def]
    judge = TopicJudge(concepts)
    question = judge.conditions("What are the symptoms of gallstones?")
    assert question, "gallstones (HPO cholelithiasis) is a condition of the question"

    def page(title: str) -> Passage:
        return Passage(chunk_id=1, doc_id=title, text="", score=1.0, start=0, end=0, title=title)

    treatment = "Treatment options include surgery, chemotherapy, radiation, or a combination of these treatments."
    assert judge.off_topic(question, page("What is (are) Gallbladder Cancer ?"), treatment)
    assert not judge.off_topic(question, page("What is (are) Gallstones ?"), "Gallstones can block a bile duct.")
    # A question and a page named in different ontologies only (HPO ischaemic stroke, DO cerebrovascular
    # disease) are not judged: the ontologies hold no link between them.
    stroke = judge.conditions("How does an ischemic stroke differ from a hemorrhagic stroke?")
    assert stroke and not judge.off_topic(stroke, page("What is (are) Stroke ?"), "Within minutes, brain cells begin to die.")


def test_pairs_are_split_by_document_group_and_reproducible() -> None:
    docs = [Document(id=f"medquad:X/{n:07d}-{q}", source="medquad/X", title=f"What is disease {n}?",
                     text=(f"Disease {n} causes fever, cough and tiredness in adults. It is not common in children. "
                           "About 20 people in 1000 get it each year. Doctors treat it with rest and fluids."),
                     metadata={"document_id": str(n), "question": f"What is disease {n}?"})
            for n in range(40) for q in (1, 2)]
    first = PairBuilder(lambda t: [], lambda c: [], seed=3).build(docs)
    second = PairBuilder(lambda t: [], lambda c: [], seed=3).build(docs)
    assert [e.to_dict() for e in first] == [e.to_dict() for e in second]
    split_by_page: dict[str, set[str]] = {}
    for e in first:
        split_by_page.setdefault(e.doc_id.rsplit("-", 1)[0], set()).add(e.split)
    assert all(len(s) == 1 for s in split_by_page.values()), "both answers of one page land in one split"
    assert {e.label for e in first} == {0, 1}
    assert split_of("a") == split_of("a")

    mix = further_mix(first, ["negation"], ["number"], size=30, seed=1)
    train = [e for e in mix if e.split == "train"]
    negations = [e for e in first if e.split == "train" and e.kind == "negation"]
    assert [e for e in train if e.kind == "negation"] == negations, "every training pair of the kind, in order"
    focus = [e for e in train if e.kind in ("negation", "number")]
    assert len(focus) == max(30, len(negations)) and len(train) == 2 * len(focus), "as many of the others beside them"
    assert [e for e in mix if e.split != "train"] == [e for e in first if e.split != "train"]
    assert mix == further_mix(first, ["negation"], ["number"], size=30, seed=1)


def test_paraphrases_the_page_states_keep_their_meaning_and_mirror_into_negatives() -> None:
    from ragmed.verify import perturb

    rng = random.Random(0)
    reordered = perturb.reorder_list("Other symptoms include - Fever - Cough - Runny nose - Tiny white spots", rng)
    assert reordered is not None and reordered.startswith("Other symptoms include ")
    items = set(reordered.removeprefix("Other symptoms include ").rstrip(".").replace(" and ", ", ").split(", "))
    assert items <= {"fever", "cough", "runny nose", "tiny white spots"} and len(items) >= 2
    # a clause is not a list item: "such as your heart and brain, need oxygen-rich blood ..." stays as it is
    assert perturb.reorder_list("Your organs, such as your heart and brain, need oxygen-rich blood to work well.", rng) is None
    assert perturb.weaken("Smoking causes lung cancer.", rng) in ("Smoking can cause lung cancer.", "Smoking may cause lung cancer.")
    for noun in ("The causes of asthma are not known.", "Its main causes include smoking.", "Nobody knows the causes."):
        assert perturb.weaken(noun, rng) is None, noun
    assert perturb.strengthen("Type 2 diabetes may need insulin.", rng) == "Type 2 diabetes will need insulin."
    assert perturb.strengthen("It cannot be cured.", rng) is None
    assert perturb.name_subject("It causes scarring in these organs.", "pelvic inflammatory disease") == \
        "Pelvic inflammatory disease causes scarring in these organs."
    assert perturb.name_subject("Its cause is unknown.", "gout") is None
    # An item stated on its own keeps a heading that says what its list lists: a food is no symptom.
    foods = "Complex carbohydrates include whole grain breads, starchy vegetables and legumes."
    stated = {perturb.list_item_claim(foods, rng) for _ in range(60)}
    headings = {claim.rsplit(" include ", 1)[0] for claim, label in filter(None, stated) if label}
    assert headings and headings <= {"Complex carbohydrates", "They"}, headings

    doc = Document(id="medquad:X/1-1", source="medquad/X", title="What is (are) Gout ?",
                   text="Gout is a painful type of arthritis. It causes swelling in the big toe.",
                   metadata={"document_id": "1", "question": "What is (are) Gout ?"})
    gout = Concept(curie="DOID:13189", label="gout", mention="Gout", start=16, end=20)
    builder = PairBuilder(lambda t: [gout] if "Gout" in t else [], lambda c: ["pseudogout"], seed=0)
    by_kind = {e.kind: e for e in builder.build([doc])}
    assert by_kind["named_subject"].claim == "Gout causes swelling in the big toe." and by_kind["named_subject"].label == 1
    assert by_kind["sibling_subject"].claim == "Pseudogout causes swelling in the big toe." and by_kind["sibling_subject"].label == 0


@pytest.mark.integration
@pytest.mark.slow
def test_training_is_deterministic_resumable_and_writes_a_manifest(tmp_path: Path) -> None:
    from ragmed.verify.train import TrainConfig, train

    pairs = [Example("support", "", f"Gout causes swollen joints number {i}.", "Gout", EVIDENCE, i % 2, "copy",
                     f"d{i}", "train" if i < 24 else "dev") for i in range(30)]

    def run(out: Path, minutes: float = 5.0):  # type: ignore[no-untyped-def]
        return train(pairs, TrainConfig(out=out, seed=1, batch_size=8, max_minutes=minutes, layers=2,
                                        checkpoint_every=1))

    a = run(tmp_path / "a")
    run(tmp_path / "b")
    assert a.finished and a.steps == 3
    weights_a = (tmp_path / "a" / "model.safetensors").read_bytes()
    assert weights_a == (tmp_path / "b" / "model.safetensors").read_bytes()
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["seed"] == 1 and manifest["steps"] == 3 and "model.safetensors" in manifest["files"]
    stopped = run(tmp_path / "c", minutes=0.0)
    assert not stopped.finished and (tmp_path / "c" / "checkpoint.pt").exists()
    resumed = run(tmp_path / "c")
    assert resumed.finished and not (tmp_path / "c" / "checkpoint.pt").exists()
    assert np.isclose(resumed.metrics["dev"]["support"]["accuracy"], a.metrics["dev"]["support"]["accuracy"])


def test_the_contrast_floor_catches_swapped_partners_and_keeps_what_the_evidence_says() -> None:
    from ragmed.verify.lexical import contrast_conflict

    evidence = ("Viral pneumonia may be treated with an antiviral medicine. "
                "If you have bacterial pneumonia, your doctor will prescribe antibiotics.")
    assert contrast_conflict("If you have bacterial pneumonia, your doctor may prescribe an antiviral medicine.", evidence)
    assert contrast_conflict("Chronic bronchitis lasts a few days.", "Acute bronchitis lasts a few days. "
                             "Chronic bronchitis is a long-term condition.") == "chronic"  # "a few days" is acute's
    assert contrast_conflict("Acute bronchitis usually lasts a few days.", "Acute bronchitis usually lasts a few "
                             "days. Chronic bronchitis is a long-term condition.") is None
    assert contrast_conflict("Antibiotics treat bacterial pneumonia.", evidence) is None
    assert contrast_conflict("Pneumonia can be viral or bacterial.", "Pneumonia can be caused by viruses or "
                             "bacteria; viral pneumonia is treated with antivirals.") is None


def test_a_claims_verdict_does_not_depend_on_what_is_scored_beside_it(verifier) -> None:  # type: ignore[no-untyped-def]
    from ragmed.verify.base import ClaimPair

    claim = ClaimPair("Asthma symptoms include wheezing and coughing.", "Symptoms of asthma include wheezing, "
                      "coughing and chest tightness.", "", "Asthma")
    others = [ClaimPair(f"Claim {i} about the liver and kidneys of older adults with long-standing disease.",
                        "A long passage about something else entirely. " * (i + 3), "", "Other") for i in range(12)]
    alone = verifier.support([claim])[0].probability
    crowded = verifier.support([*others[:6], claim, *others[6:]])[6].probability
    assert abs(alone - crowded) < 1e-3


GOUT_PAIRS = [ClaimPair(claim, EVIDENCE, question, "Gout") for claim, question in [
    ("Gout is a painful form of arthritis.", ""), ("Gout causes swollen, red and stiff joints.", "What is gout?"),
    ("Gout happens when uric acid builds up.", ""), ("Gout is caused by a virus.", "What causes gout?"),
    ("Gout never causes joint pain.", ""), ("Gout is a painful form of arthritis.", "")]]


@pytest.mark.integration
def test_pairs_scored_together_get_the_scores_they_get_one_at_a_time(verifier) -> None:  # type: ignore[no-untyped-def]
    together = [v.probability for v in verifier.support(GOUT_PAIRS)]
    alone = [verifier.support([pair])[0].probability for pair in GOUT_PAIRS]
    assert np.allclose(together, alone, atol=1e-4)
    assert together[0] == together[-1]  # the repeated pair is scored once


@pytest.mark.integration
def test_scores_equal_the_sentence_transformers_cross_encoders(verifier) -> None:  # type: ignore[no-untyped-def]
    import torch

    from ragmed.verify.cross_encoder import _ranked_windows
    from ragmed.verify.lexical import terms

    inputs = [(f"claim: {p.claim}", f"Gout | {EVIDENCE[s:e]}") for p in GOUT_PAIRS
              for s, e in _ranked_windows(EVIDENCE, terms(p.claim), 2, 2)]
    reference = verifier._model.predict(inputs, batch_size=32, show_progress_bar=False, activation_fn=torch.nn.Sigmoid())
    assert np.allclose(verifier._probabilities(inputs), reference, atol=1e-4)


@pytest.mark.integration
@pytest.mark.slow
def test_the_onnx_runtime_gives_the_torch_verdicts_and_refuses_a_missing_or_stale_export(verifier, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ragmed.verify.onnx import export_verifier

    graph = tmp_path / "verifier.onnx"
    with pytest.raises(ConfigError, match="ragmed train verifier-onnx"):
        make_verifier(VerifierSettings(runtime="onnx", onnx_path=graph))
    export_verifier(PACKAGED, graph)
    onnx = make_verifier(VerifierSettings(runtime="onnx", onnx_path=graph))
    torch_verifier = make_verifier(VerifierSettings(runtime="torch"))
    assert isinstance(onnx, CrossEncoderVerifier) and onnx.runtime == "onnx"
    assert isinstance(torch_verifier, CrossEncoderVerifier) and torch_verifier.runtime == "torch"
    ours, theirs = onnx.support(GOUT_PAIRS), torch_verifier.support(GOUT_PAIRS)
    assert np.allclose([v.probability for v in ours], [v.probability for v in theirs], atol=1e-4)
    assert [(v.start, v.end) for v in ours] == [(v.start, v.end) for v in theirs]
    retrained = tmp_path / "retrained"
    shutil.copytree(PACKAGED, retrained)
    config = json.loads((retrained / "config.json").read_text(encoding="utf-8"))
    (retrained / "config.json").write_text(json.dumps({**config, "note": "retrained"}), encoding="utf-8")
    with pytest.raises(ConfigError, match="other weights"):
        CrossEncoderVerifier(retrained, onnx_path=graph)


@pytest.mark.integration
@pytest.mark.slow
def test_the_default_runtime_exports_the_verifier_once_into_the_cache(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = make_verifier(VerifierSettings(), cache_dir=tmp_path)
    graphs = list(tmp_path.glob("onnx/verifier-*/model.onnx"))
    assert isinstance(first, CrossEncoderVerifier) and first.runtime == "onnx" and len(graphs) == 1
    written = graphs[0].stat().st_mtime_ns
    second = make_verifier(VerifierSettings(), cache_dir=tmp_path)
    assert isinstance(second, CrossEncoderVerifier) and second.runtime == "onnx"
    assert graphs[0].stat().st_mtime_ns == written  # reused, not exported again
    quantized = make_verifier(VerifierSettings(quantize=True), cache_dir=tmp_path)
    assert isinstance(quantized, CrossEncoderVerifier) and quantized.runtime == "torch"


@pytest.mark.integration
def test_a_window_sharing_too_few_of_the_claims_words_is_not_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The overlap gate: a window holding under ``min_overlap`` of the claim's content words counts as not stating
    it, without a model run; the gate off reads it."""
    claim = ClaimPair("Colchicine relieves the pain of an acute gout attack.", "Tophi form under the skin. "
                      "Colchicine relieves the pain of an acute gout attack.", title="Gout")
    unrelated = ClaimPair("Colchicine relieves the pain of an acute gout attack.",
                          "Regular exercise strengthens bones and muscles.", title="Exercise")
    gated = make_verifier(VerifierSettings(runtime="torch", min_overlap=0.3))
    read_all = make_verifier(VerifierSettings(runtime="torch", min_overlap=0.0))
    assert isinstance(gated, CrossEncoderVerifier) and isinstance(read_all, CrossEncoderVerifier)
    calls: list[int] = []
    scorer = gated._probabilities
    gated._probabilities = lambda inputs: calls.append(len(inputs)) or scorer(inputs)  # type: ignore[method-assign]
    kept, dropped = gated.support([claim, unrelated])
    assert kept.probability >= 0.5 and dropped.probability == 0.0
    assert sum(calls) == 1  # only the gout window went to the model
    assert read_all.support([unrelated])[0].probability > 0.0


def test_the_onnx_runtime_needs_an_export_and_runs_in_fp32() -> None:
    with pytest.raises(ValueError, match="onnx_path"):
        VerifierSettings(runtime="onnx")
    with pytest.raises(ValueError, match="fp32"):
        VerifierSettings(runtime="onnx", onnx_path=Path("verifier.onnx"), quantize=True)


@pytest.mark.integration
def test_a_claim_that_copies_a_sentence_but_changes_its_meaning_is_a_misquote(concepts) -> None:  # type: ignore[no-untyped-def]
    evidence = ("Shingles causes a painful rash on one side of the body. The rash usually appears in a band around "
                "the waist. Postherpetic neuralgia is nerve pain that can last after the rash heals. Most people "
                "do not get shingles more than once.")
    named = TopicJudge(concepts).named
    assert misquote("Shingles causes a painless rash on one side of the body.", evidence, named) is None  # no partner
    assert misquote("The rash usually appears in a band around the neck.", evidence, named) is None  # a new word
    assert misquote("Most people do get shingles more than once.", evidence, named)  # negation taken out
    assert misquote("The rash never appears in a band around the waist.", evidence, named)  # negation put in
    assert misquote("Shingles causes a painful rash on both sides of the body.", evidence, named) is None
    assert misquote("Shingles causes a painful rash on the left side of the body.", evidence, named) is None
    low = "Blood pressure is usually lower in the morning and rises during the day."
    assert misquote("Blood pressure is usually higher in the morning and rises during the day.", low, named)
    swapped = "Postherpetic neuralgia is nerve pain that can last after the shingles heals."
    assert misquote(swapped, evidence, named, "Shingles") is None  # the page's own condition for "the rash"
    assert misquote("Shingles is nerve pain that can last after the rash heals.", evidence, named)
    # Picking one item out of a list, or resolving a pronoun, is not a misquote.
    listing = "Symptoms include - Fever - Headache - Not wanting to eat - Tiredness"
    assert misquote("Symptoms include tiredness.", listing, named) is None
    assert misquote("It usually appears in a band around the waist.", evidence, named) is None
    # Another subject the evidence never mentions put into a copied sentence is a misquote; a synonym of its own
    # subject (the ontology links both to one concept) is not.
    linked = lambda text: {c.curie for c in concepts.link(text)}  # noqa: E731
    assert misquote("Lyme disease causes a painful rash on one side of the body.", evidence, named, "", linked)
    assert misquote("Herpes zoster causes a painful rash on one side of the body.", evidence, named, "", linked) is None
    # Plain words the ontology does not know are rewording, not another subject; an opposite is a misquote.
    assert misquote("The rash usually appears in a narrow strip around the waist.", evidence, named, "", linked) is None
    assert misquote("Blood pressure is usually high in the morning.", "Blood pressure is usually low in the morning.")
    assert misquote("Blood sugar can be too high or too low.", "Blood sugar can be too low or too high.") is None


@pytest.mark.integration
def test_a_focus_completed_from_one_title_does_not_leak_into_the_next_passage(concepts) -> None:  # type: ignore[no-untyped-def]
    judge = TopicJudge(concepts)

    def page(title: str) -> Passage:  # an indexed focus in the Disease Ontology only, as MedQuAD pages may have
        return Passage(chunk_id=1, doc_id=title, text="", score=1.0, start=0, end=0, title=title,
                       metadata={"focus": ["DOID:4948"]})

    asthma, gout = judge.focus(page("What is (are) Asthma ?")), judge.focus(page("What is (are) Gout ?"))
    hpo = lambda focus: {c for c in focus if c.startswith("HP:")}  # noqa: E731
    assert hpo(asthma) and hpo(gout) and not hpo(asthma) & hpo(gout)
    assert judge.focus(page("What is (are) Gout ?")) == gout
