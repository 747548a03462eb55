"""Bounded work for answers: a fixed set of worker threads, a bounded queue, cancellation.

Each answer request (``/v1/ask``, ``/v1/chat/completions``) becomes a ``Job`` that runs ``Engine.stream``
on one of ``api.answer_workers`` threads; at most ``api.answer_queue`` more wait for a thread, and a request
beyond that is answered 503 with ``Retry-After``. A job is cancelled when its client disconnects or its
deadline (``api.request_timeout_s``) passes: its cancel token is set, so retrieval is skipped if it has
not started and generation stops at its next token; its slot is free once the worker thread has let go.

Example:
    >>> pool = AnswerPool(workers=2, waiting=16)
    >>> job = pool.submit(lambda cancel: engine.stream("What is gout?", cancel=cancel))  # doctest: +SKIP
    >>> async for event in job.events(): ...  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import math
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import anyio
from starlette.requests import Request

from api.errors import ApiError

T = TypeVar("T")
_END = object()


class Job(Generic[T]):
    """One answer being worked on: its events arrive in ``events()``; ``cancel()`` stops it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.token = threading.Event()
        self._loop = loop
        self._queue: asyncio.Queue[tuple[object, BaseException | None]] = asyncio.Queue()

    def cancel(self) -> None:
        """Stop the work: the engine sees the token at its next check (a stage, a token)."""
        self.token.set()

    def _post(self, item: object, error: BaseException | None = None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (item, error))
        except RuntimeError:
            self.token.set()  # the event loop has closed: nobody is listening any more

    async def events(self) -> AsyncIterator[T]:
        """The job's items in order; an error the engine raised is raised here."""
        while True:
            item, error = await self._queue.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item  # type: ignore[misc]

    async def first(self) -> T | None:
        """The first item (None when the job ended without one)."""
        async for item in self.events():
            return item
        return None


class AnswerPool:
    """Worker threads for answers with a bounded queue.

    Args:
        workers: answers worked on at once (threads).
        waiting: answers that may wait for a thread; more are refused with 503.
    """

    def __init__(self, workers: int, waiting: int) -> None:
        self.workers, self.waiting = workers, waiting
        self._lock = threading.Lock()
        self._admitted = 0
        self._seconds = 2.0  # moving average of one answer's time, for Retry-After
        self._closed = False
        self._queue: queue.SimpleQueue[tuple[Callable[[threading.Event], Iterator[Any]], Job[Any]] | None] = (
            queue.SimpleQueue())
        # Started now and kept: the service's thread count does not move with its load.
        self._threads = [threading.Thread(target=self._serve, name=f"ragmed-answer-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    @property
    def admitted(self) -> int:
        """Jobs running or waiting."""
        return self._admitted

    def retry_after(self) -> int:
        """Seconds after which a refused client may expect a free place."""
        waiting = max(self._admitted - self.workers + 1, 1)
        return max(1, min(120, math.ceil(self._seconds * waiting / self.workers)))

    def submit(self, work: Callable[[threading.Event], Iterator[T]]) -> Job[T]:
        """Queue ``work(cancel_token)``, an iterator run on a worker thread.

        Raises:
            ApiError: 503 with ``Retry-After`` when the queue is full.
        """
        with self._lock:
            if self._admitted >= self.workers + self.waiting:
                raise ApiError(503, f"service busy: {self._admitted} answers are being worked on or waiting "
                               f"(limit {self.workers + self.waiting}); retry later",
                               headers={"Retry-After": str(self.retry_after())})
            self._admitted += 1
        job: Job[T] = Job(asyncio.get_running_loop())
        self._queue.put((work, job))
        return job

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            work, job = item
            if self._closed:
                job.cancel()  # the service is stopping: queued answers end without starting
            self._run(work, job)

    def _run(self, work: Callable[[threading.Event], Iterator[T]], job: Job[T]) -> None:
        started = time.monotonic()
        failure: Exception | None = None
        try:
            if job.token.is_set():
                return  # cancelled while waiting: nothing is retrieved
            iterator = work(job.token)
            try:
                for item in iterator:
                    job._post(item)
                    if job.token.is_set():
                        break
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
        except Exception as exc:  # handed to the request's coroutine, which raises it there
            failure = exc
        finally:
            with self._lock:  # the slot is free before the client can see the end
                self._admitted -= 1
                self._seconds = 0.8 * self._seconds + 0.2 * (time.monotonic() - started)
            job._post(_END, failure)

    def close(self) -> None:
        """Stop: queued answers are cancelled, and each thread ends once its current answer does."""
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)


@asynccontextmanager
async def cancelled_on_disconnect(request: Request, job: Job[T]) -> AsyncIterator[None]:
    """Cancel ``job`` (and the block) when the client disconnects while the block runs, or when the block
    itself is cancelled (a deadline) or fails.

    Raises:
        ApiError: 499 when the client went away (nobody reads it; the access log records it).
    """
    gone = False
    try:
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                nonlocal gone
                while True:
                    message = await request.receive()
                    if message["type"] == "http.disconnect":
                        gone = True
                        job.cancel()
                        group.cancel_scope.cancel()
                        return

            group.start_soon(watch)
            try:
                yield
            finally:
                group.cancel_scope.cancel()
    except BaseException:
        job.cancel()
        raise
    if gone:
        raise ApiError(499, "request: the client closed the connection")
