"""The queued background writer both trial-side sinks use (sink.py, ray_sink.py).

A trial's reports must never wait for a disk or a lock, and none may be lost: the
training thread only queues (kind, payload) items; a daemon thread hands them to
the sink's `write(items)` in batches every `interval` seconds, and at exit (or on
`flush()`) the calling thread writes what is left. A batch whose write raised is
kept, ahead of anything queued since, and written first next time, so the order
the trial reported in is the order written.
"""

from __future__ import annotations

import atexit
import queue
import threading
from collections.abc import Callable
from typing import Any

Item = tuple[str, Any]


class QueuedWriter:
    """Queues items from any thread; writes them in order from a daemon thread.

    Args:
        write: Writes one batch (may raise; the batch is then kept for the next try).
        interval: Seconds between background writes (bounds report-to-store latency).
        name: The thread's name.
        on_error: Called in the background thread when a write raised (the trial
            keeps training; the items stay queued).
        retry_after: Extra seconds to wait after a failed write before the next try.
    """

    def __init__(self, write: Callable[[list[Item]], None], interval: float, name: str,
                 on_error: Callable[[Exception], None], retry_after: float = 0.0) -> None:
        self._write = write
        self._interval = interval
        self._on_error = on_error
        self._retry_after = retry_after
        self._queue: queue.Queue[Item] = queue.Queue()
        self._failed: list[Item] = []  # a batch whose write raised; written first next time
        self._lock = threading.Lock()  # one writer at a time: the thread or a flush()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    def put(self, kind: str, payload: Any) -> None:
        self._queue.put((kind, payload))

    def flush(self) -> None:
        """Write everything queued so far, from the calling thread (raises if it fails;
        the items are kept)."""
        with self._lock:
            items = self._failed
            self._failed = []
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if not items:
                return
            try:
                self._write(items)
            except Exception:
                self._failed = items
                raise

    def close(self) -> None:
        """Write what is queued and stop the background thread."""
        self._closed.set()
        self._thread.join()
        atexit.unregister(self.flush)
        self.flush()

    def _run(self) -> None:
        while not self._closed.wait(self._interval):
            try:
                self.flush()
            except Exception as exc:  # keep training alive; the items stay queued
                self._on_error(exc)
                self._closed.wait(self._retry_after)
