"""The queued background writer both trial-side sinks use (sink.py, ray_sink.py).

A trial's reports must never wait for a disk or a lock, and none may be lost: the
training thread only queues (kind, payload) items; a daemon thread hands them to
the sink's `write(items)` in batches every `interval` seconds, and at exit (or on
`flush()`) the calling thread writes what is left. A batch whose write raised is
put back, ahead of anything queued since, and written first next time, so the order
the trial reported in is the order written. That is for failures that pass (a locked
or full disk: the sink's `transient` errors); a batch that fails for any other reason
would fail forever, so its items are written one by one and only those that still
fail are set aside, with one line saying so.

While writes fail (a full disk), the points wait in memory, up to `limit` points
(`MAX_UNSENT_POINTS`); past it the oldest waiting points are dropped, counted and said
once, so the latest state of the trial survives. The thread retries every `interval`
plus `retry_after` seconds and never dies: an error it cannot even print is ignored.
At exit it keeps retrying for `EXIT_PATIENCE` seconds, then says what it gave up.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

Item = tuple[str, Any]

MAX_UNSENT_POINTS = 500_000  # about 100 MB of points held while the disk is full
BATCH_ITEMS = 5_000  # items per write: a disk with little room left still takes some
EXIT_PATIENCE = 60.0  # seconds a finished trial waits for the disk before giving up


class RejectedItems(Exception):
    """Items no write could store (not a passing failure); they are not retried."""

    def __init__(self, items: list[Item], reason: Exception) -> None:
        super().__init__(f"{len(items)} report(s) could not be stored and were set aside: "
                         f"{type(reason).__name__}: {reason}")
        self.items = items


class DroppedPoints(Exception):
    """Points dropped because more than `limit` were waiting to be written."""

    def __init__(self, count: int, limit: int, final: bool) -> None:
        super().__init__(
            f"{count} metric point(s) dropped in all: more than {limit} were waiting to be "
            f"written" if final else
            f"more than {limit} metric points are waiting to be written; dropping the "
            f"oldest from now on (the total is said at exit)")
        self.count = count


class GaveUp(Exception):
    """At exit, the writes still failed after `EXIT_PATIENCE` seconds."""

    def __init__(self, count: int, waited: float, reason: Exception) -> None:
        super().__init__(f"gave up after {waited:.0f}s: {count} metric point(s) and the "
                         f"reports queued with them were not stored ({reason})")
        self.count = count


class QueuedWriter:
    """Queues items from any thread; writes them in order from a daemon thread.

    Args:
        write: Writes one batch (may raise; the batch is then kept for the next try).
        interval: Seconds between background writes (bounds report-to-store latency).
        name: The thread's name.
        on_error: Told, in whichever thread noticed, the first failure of each outage
            and the notices above (`RejectedItems`, `DroppedPoints`, `GaveUp`). The
            trial keeps training; what it raises itself is ignored.
        retry_after: Extra seconds to wait after a failed write before the next try.
        transient: The errors worth retrying; any other error is a bad item.
        limit: The most points (payload items of kind `counted`) held unwritten.
        counted: The kind whose payload is a list of points, counted and droppable.
        exit_patience: Seconds the exit hook keeps retrying.
    """

    def __init__(self, write: Callable[[list[Item]], None], interval: float, name: str,
                 on_error: Callable[[Exception], None], retry_after: float = 0.0,
                 transient: tuple[type[BaseException], ...] = (OSError,),
                 limit: int = MAX_UNSENT_POINTS, counted: str = "points",
                 exit_patience: float = EXIT_PATIENCE) -> None:
        self._write = write
        self._transient = transient
        self._interval = interval
        self._on_error = on_error
        self._retry_after = retry_after
        self._limit = limit
        self._counted = counted
        self._exit_patience = exit_patience
        self._pending: deque[Item] = deque()  # oldest first; a failed batch goes back in front
        self._held = 0  # points in _pending
        self._dropped = 0
        self._failing = False  # inside an outage: said once, at its start
        self._qlock = threading.Lock()  # guards _pending, _held, _dropped
        self._lock = threading.Lock()  # one writer at a time: the thread or a flush()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        atexit.register(self.finish)

    @property
    def waiting(self) -> int:
        """Points queued and not written yet."""
        return self._held

    def put(self, kind: str, payload: Any) -> None:
        first_drop = False
        with self._qlock:
            self._pending.append((kind, payload))
            if kind == self._counted:
                self._held += len(payload)
                if self._held > self._limit:
                    first_drop = self._dropped == 0
                    self._drop_oldest()
        if first_drop:
            self._tell(DroppedPoints(self._dropped, self._limit, final=False))

    def _drop_oldest(self) -> None:
        """Drop the oldest points until the limit holds; other items keep their place."""
        spared: list[Item] = []
        while self._held > self._limit and self._pending:
            item = self._pending.popleft()
            if item[0] == self._counted:
                self._held -= len(item[1])
                self._dropped += len(item[1])
            else:
                spared.append(item)
        self._pending.extendleft(reversed(spared))

    def _take(self) -> list[Item]:
        with self._qlock:
            batch = [self._pending.popleft()
                     for _ in range(min(BATCH_ITEMS, len(self._pending)))]
            self._held -= sum(len(p) for k, p in batch if k == self._counted)
        return batch

    def _give_back(self, items: list[Item]) -> None:
        with self._qlock:
            self._pending.extendleft(reversed(items))
            self._held += sum(len(p) for k, p in items if k == self._counted)
            if self._held > self._limit:
                self._drop_oldest()

    def flush(self) -> None:
        """Write everything queued so far, from the calling thread. Raises the write's
        error if it fails; the items are kept for the next try."""
        with self._lock:
            while True:
                batch = self._take()
                if not batch:
                    break
                self._write_batch(batch)
                if len(batch) < BATCH_ITEMS:
                    break  # what others queue meanwhile is the next flush's
        self._failing = False

    def _write_batch(self, items: list[Item]) -> None:
        try:
            self._write(items)
        except Exception as exc:
            if isinstance(exc, self._transient):
                self._give_back(items)
                raise
            self._write_singly(items)
        except BaseException:  # Ctrl-C mid-write: nothing taken may be lost
            self._give_back(items)
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
                    self._give_back(items[i:])
                    raise
                bad.append(item)
                reason = exc
            except BaseException:  # Ctrl-C: keep what is not written yet
                self._give_back(items[i:])
                raise
        if bad:
            self._tell(RejectedItems(bad, reason))

    def close(self) -> None:
        """Write what is queued and stop the background thread. If that last write
        fails, the exit hook stays registered to try again."""
        self._closed.set()
        self._thread.join()
        self.flush()
        atexit.unregister(self.finish)

    def finish(self) -> bool:
        """The exit hook: write what is queued, retrying for `exit_patience` seconds
        while the failure passes; then say what was dropped or given up. Never raises.
        True when nothing was lost."""
        deadline = time.monotonic() + self._exit_patience
        while True:
            try:
                self.flush()
                break
            except Exception as exc:
                self._outage(exc)
                left = deadline - time.monotonic()
                if left <= 0:
                    lost = self._held
                    self._tell(GaveUp(lost, self._exit_patience, exc))
                    return False
                time.sleep(min(0.25, left))
        if self._dropped:
            self._tell(DroppedPoints(self._dropped, self._limit, final=True))
            return False
        return True

    def _outage(self, exc: Exception) -> None:
        if not self._failing:
            self._failing = True
            self._tell(exc)

    def _tell(self, exc: Exception) -> None:
        try:
            self._on_error(exc)
        except Exception:  # noqa: S110 - e.g. stderr on the same full disk: keep writing
            pass

    def _run(self) -> None:
        while not self._closed.wait(self._interval):
            try:
                self.flush()
            except Exception as exc:  # keep training alive; the items stay queued
                self._outage(exc)
                self._closed.wait(self._retry_after)


def say_write_error(what: str) -> Callable[[Exception], None]:
    """The sinks' `on_error`: one line on stderr, which is the trial's log (and may be
    on the full disk itself: then the line is lost, never the trial)."""
    def say(exc: Exception) -> None:
        line = (f"tuitune: {exc}" if isinstance(exc, (RejectedItems, DroppedPoints, GaveUp))
                else f"tuitune: could not write {what} yet ({exc}); keeping them in memory "
                     f"and retrying")
        try:
            print(line, file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass
    return say
