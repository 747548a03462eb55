"""Time the citation check adds to a five-sentence answer, per verifier backend.

For each question, five passages are retrieved from an index and a five-sentence answer is written the way
a small model writes one: evidence sentences, some cited with the wrong number, one list sentence, one
sentence no passage states. With ``--generator llamacpp`` Gemma writes the drafts instead (slower to set
up, same measurement). Only the check is timed (retrieval and generation are not), one answer at a time,
after a warm-up; the script prints p50/p95 per backend, per answer and per sentence, and of five-sentence
answers made of sentences drawn at random from the drafts (Gemma's drafts are often shorter than five).

    python bench/verifier_latency.py --index starter
    python bench/verifier_latency.py --backend trained --backend lexical --generator llamacpp
    python bench/verifier_latency.py --backend trained --onnx indexes/.cache/verifier.onnx
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

QUESTIONS = [
    "What are the symptoms of type 2 diabetes?", "How is high blood pressure treated?", "What causes gout?",
    "How can I prevent the flu?", "What are the warning signs of a stroke?", "How is asthma diagnosed?",
    "What are the risk factors for osteoporosis?", "How is pneumonia treated?", "What causes kidney stones?",
    "Who should get the shingles vaccine?", "What are the complications of measles?", "How is Lyme disease spread?",
]


def composed_answer(passages: list, rng: random.Random) -> str:  # type: ignore[type-arg]
    """Five sentences from the evidence, written as a small model writes them."""
    from ragmed.text import split_sentences

    sentences = [(i, p.text[s:e]) for i, p in enumerate(passages, 1) for s, e in split_sentences(p.text)
                 if 6 <= len(p.text[s:e].split()) <= 45]
    rng.shuffle(sentences)
    picked = sentences[:4]
    out = []
    for k, (n, text) in enumerate(picked):
        cite = n if k % 2 == 0 else (n % len(passages)) + 1
        out.append(f"{text.rstrip('.')} [{cite}].")
    out.append("Most people recover fully within two days without any treatment [1].")
    return " ".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default=None)
    parser.add_argument("--backend", action="append", default=None, help="trained (default), lexical, cross-encoder")
    parser.add_argument("--generator", default=None, help="llamacpp to have Gemma write the drafts")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--onnx", default=None, help="run the cross-encoder on ONNX Runtime from this export "
                        "(`ragmed train verifier-onnx PATH` makes it)")
    args = parser.parse_args()

    from ragmed.cite import CitationChecker, sentences_of
    from ragmed.config import load_settings
    from ragmed.engine import Engine
    from ragmed.generate.prompt import answer_prompt
    from ragmed.verify import make_verifier
    from ragmed.verify.topic import TopicJudge, conditions_of

    settings = load_settings()
    engine = Engine.open(settings, args.index)
    rng = random.Random(0)
    cases = []
    gen = engine.answerer(args.generator).generator() if args.generator else None
    for question in QUESTIONS:
        expanded = engine.retriever.expand(question)
        passages = engine.retriever.search(question, k=5, expanded=expanded)
        if gen is not None:
            cfg = settings.generation
            prompt = answer_prompt(question, passages, context_tokens=cfg.context_tokens, max_new_tokens=cfg.max_new_tokens,
                                   count_tokens=getattr(gen, "count_tokens", None))
            answer = gen.generate(prompt.text, max_new_tokens=cfg.max_new_tokens, stop=prompt.stop)
            passages = prompt.passages
        else:
            answer = composed_answer(passages, rng)
        cases.append((question, passages, answer, conditions_of(expanded.concepts, engine.ontology)))
    sentences = statistics.mean(len(sentences_of(a)) for _, _, a, _ in cases)
    print(f"{len(cases)} answers, {sentences:.1f} sentences each on average, "
          f"{'Gemma drafts' if gen else 'composed from the evidence'}")
    topic = TopicJudge(engine.ontology) if engine.ontology else None
    for backend in args.backend or ["trained", "lexical"]:
        runtime = {"runtime": "onnx", "onnx_path": Path(args.onnx)} if args.onnx else {}
        verifier_settings = settings.verifier.model_copy(update={"backend": backend, **runtime})
        checker = CitationChecker(make_verifier(verifier_settings, engine.embedder), verifier_settings.support_threshold,
                                  topic)
        checker.check(cases[0][2], cases[0][1], cases[0][0], cases[0][3])
        times = []
        for _ in range(args.repeat):
            for question, passages, answer, conditions in cases:
                started = time.perf_counter()
                checker.check(answer, passages, question, conditions)
                times.append(1000 * (time.perf_counter() - started))
        print(f"{backend:9} {verifier_settings.runtime if backend != 'lexical' else '':5} check per answer: "
              f"{_p50_p95(times)} ({len(times)} checks)")
        # Each sentence timed on its own, then five drawn at random (with replacement) make one five-sentence answer.
        per_sentence = []
        for _ in range(args.repeat):
            for question, passages, answer, conditions in cases:
                session = checker.session(passages, question, conditions)
                for sentence in sentences_of(answer):
                    started = time.perf_counter()
                    session.add(sentence)
                    per_sentence.append(1000 * (time.perf_counter() - started))
        five = [sum(rng.choice(per_sentence) for _ in range(5)) for _ in range(2000)]
        print(f"{'':15} per sentence: {_p50_p95(per_sentence)}; five sentences drawn from them: {_p50_p95(five)}")


def _p50_p95(times: list[float]) -> str:
    ordered = sorted(times)
    return f"p50 {statistics.median(ordered):.1f} ms, p95 {ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]:.1f} ms"


if __name__ == "__main__":
    main()
