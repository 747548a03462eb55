"""Training batch order shared by ragmed's fine-tuning runs: reproducible for a seed, examples of similar length
batched together so that little of each batch is padding.

Example:
    >>> order = epoch_batches([5, 3, 9, 4], batch_size=2, seed=0, epochs=1.0)
    >>> sorted(i for batch in order for i in batch)
    [0, 1, 2, 3]
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


def epoch_batches(lengths: Sequence[int], batch_size: int, seed: int, epochs: float,
                  block: int = 50) -> list[list[int]]:
    """Batches of example indices for the whole run.

    Each epoch shuffles the examples, sorts each block of ``block * batch_size`` of them by length, cuts the
    blocks into batches and shuffles the batches; a fractional last epoch keeps that share of its batches.

    Args:
        lengths: each example's length (any unit).
        batch_size: examples per batch.
        seed: seed of the shuffles.
        epochs: passes over the examples (fractions allowed).
        block: batches per length-sorted block.

    Raises:
        ValueError: ``batch_size`` or ``block`` is below 1, or ``epochs`` is not positive.
    """
    if batch_size < 1 or block < 1:
        raise ValueError(f"batch_size and block must be at least 1, got {batch_size} and {block}")
    if epochs <= 0:
        raise ValueError(f"epochs must be greater than 0, got {epochs}")
    rng = random.Random(seed)
    order: list[list[int]] = []
    for epoch in range(math.ceil(epochs)):
        idx = list(range(len(lengths)))
        rng.shuffle(idx)
        batches: list[list[int]] = []
        for i in range(0, len(idx), batch_size * block):
            chunk = sorted(idx[i:i + batch_size * block], key=lambda j: lengths[j])
            batches += [chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size)]
        rng.shuffle(batches)
        if epoch + 1 > epochs:
            batches = batches[: int(len(batches) * (epochs - epoch))]
        order += batches
    return order
