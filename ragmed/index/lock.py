"""One writer per index across processes: an exclusive lock on ``writer.lock`` that records its holder.

The lock is an ``flock`` on the file, so the operating system releases it when the holding process
ends, however it ends: a lock left by a killed process is free at once and the next writer takes it
over (the file's stale holder record is simply overwritten). While it is held the file names the
holder (pid, host, since when), and a writer that waits longer than its timeout fails with an error
that names it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from ragmed.errors import IndexLockedError

LOCK_FILE = "writer.lock"
_POLL_S = 0.02
_RECORD = 256


class WriterLock:
    """The writer lock of one index folder; re-entrant within a thread, exclusive across threads and processes.

    Example:
        >>> lock = WriterLock(Path("indexes/starter"), timeout_s=30)
        >>> with lock.hold():
        ...     pass  # write
    """

    def __init__(self, folder: Path, timeout_s: float) -> None:
        self.path = folder / LOCK_FILE
        self.timeout_s = timeout_s
        self._threads = threading.RLock()
        self._depth = 0
        self._handle: IO[str] | None = None

    @contextmanager
    def hold(self, timeout_s: float | None = None) -> Iterator[None]:
        """Hold the lock for the block, waiting at most ``timeout_s`` (the lock's own timeout when None).

        Raises:
            IndexLockedError: another process held it for longer than that; the message names it.
        """
        timeout = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        if not self._threads.acquire(timeout=timeout if timeout > 0 else -1):
            raise IndexLockedError(f"index {self.path.parent} is being written by another thread of this process; "
                                   f"waited {timeout:g} s")
        try:
            if self._depth == 0:
                self._handle = self._acquire(deadline, timeout)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._handle is not None:
                    fcntl.flock(self._handle, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _acquire(self, deadline: float, timeout: float) -> IO[str]:
        if self._handle is None:  # kept open between writes: taking the lock again costs no file open
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not O_APPEND: pwrite must overwrite
            self._handle = os.fdopen(descriptor, "r+", encoding="utf-8")
        handle = self._handle
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexLockedError(
                        f"index {self.path.parent} is being written by {_describe(self.holder())}; waited "
                        f"{timeout:g} s for it (RAGMED_INDEX__WRITER_TIMEOUT_S sets how long)") from None
                time.sleep(_POLL_S)
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "since": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        os.pwrite(handle.fileno(), record.ljust(_RECORD).encode("utf-8"), 0)  # overwritten in place, no truncate
        return handle

    def close(self) -> None:
        """Close the lock file (the lock must not be held)."""
        with self._threads:
            if self._handle is not None and self._depth == 0:
                self._handle.close()
                self._handle = None

    def holder(self) -> dict[str, object]:
        """The last recorded holder (``pid``, ``host``, ``since``); empty when none was recorded."""
        try:
            text = self.path.read_text(encoding="utf-8").strip()
            data = json.JSONDecoder().raw_decode(text)[0] if text else {}
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


def _describe(holder: dict[str, object]) -> str:
    if not holder:
        return "another process"
    return f"pid {holder.get('pid')} on host {holder.get('host')} (since {holder.get('since')})"
