"""The queued background writer both trial-side sinks use (sink.py, ray_sink.py).

A trial's reports must never wait for a disk or a lock, and none may be lost: the
training thread only queues (kind, payload) items; a daemon thread hands them to
the sink's `write(items)` in batches every `interval` seconds, and at exit (or on
`flush()`) the calling thread writes what is left. A batch whose write raised is
kept, ahead of anything queued since, and written first next time, so the order
the trial reported in is the order written. That is for failures that pass (a locked
or full disk: the sink's `transient` errors); a batch that fails for any other reason
would fail forever, so its items are written one by one and only those that still
fail are set aside, with one line saying so.
"""

from __future__ import annotations

import atexit
import queue
import sys
import threading
from collections.abc import Callable
from typing import Any

Item = tuple[str, Any]


class RejectedItems(Exception):
    """Items no write could store (not a passing failure); they are not retried."""

    def __init__(self, items: list[Item], reason: Exception) -> None:
        super().__init__(f"{len(items)} report(s) could not be stored and were set aside: "
                         f"{type(reason).__name__}: {reason}")
        self.items = items


class QueuedWriter:
    """Queues items from any thread; writes them in order from a daemon thread.

    Args:
        write: Writes one batch (may raise; the batch is then kept for the next try).
        interval: Seconds between background writes (bounds report-to-store latency).
        name: The thread's name.
        on_error: Called in the background thread when a write raised (the trial
            keeps training; the items stay queued).
        retry_after: Extra seconds to wait after a failed write before the next try.
        transient: The errors worth retrying; any other error is a bad item.
    """

    def __init__(self, write: Callable[[list[Item]], None], interval: float, name: str,
                 on_error: Callable[[Exception], None], retry_after: float = 0.0,
                 transient: tuple[type[BaseException], ...] = (OSError,)) -> None:
        self._write = write
        self._transient = transient
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
            except Exception as exc:
                if isinstance(exc, self._transient):
                    self._failed = items
                    raise
                self._write_singly(items)
            except BaseException:  # Ctrl-C mid-write: nothing drained may be lost
                self._failed = items
                raise

    def _write_singly(self, items: list[Item]) -> None:
        """Write items one at a time after a batch failed for a non-transient reason:
        the good ones are stored, in order; the bad ones are set aside and said."""
        bad: list[Item] = []
        for i, item in enumerate(items):
            try:
                self._write([item])
            except Exception as exc:
                if isinstance(exc, self._transient):
                    self._failed = items[i:]
                    raise
                bad.append(item)
                reason = exc
            except BaseException:  # Ctrl-C: keep what is not written yet
                self._failed = items[i:]
                raise
        if bad:
            self._on_error(RejectedItems(bad, reason))

    def close(self) -> None:
        """Write what is queued and stop the background thread. If that last write
        fails, the exit hook stays registered to try once more."""
        self._closed.set()
        self._thread.join()
        self.flush()
        atexit.unregister(self.flush)

    def _run(self) -> None:
        while not self._closed.wait(self._interval):
            try:
                self.flush()
            except Exception as exc:  # keep training alive; the items stay queued
                self._on_error(exc)
                self._closed.wait(self._retry_after)


def say_write_error(what: str) -> Callable[[Exception], None]:
    """The sinks' `on_error`: one line on stderr, which is the trial's log."""
    def say(exc: Exception) -> None:
        line = (f"tuitune: {exc}" if isinstance(exc, RejectedItems)
                else f"tuitune: could not write {what} yet ({exc}); will retry")
        print(line, file=sys.stderr, flush=True)
    return say
