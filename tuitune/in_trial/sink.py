"""Where a trial's reports go. The one place that picks the channel by environment.

Locally the trial writes straight into the run's SQLite store; a remote executor
can add its own sink (a relay through the node) behind the same small interface.
Writes are queued and flushed by a background thread so `report()` never blocks
the training loop, and are flushed at exit. The store is opened by the writer on
its first write, not by `report()`: a store that cannot be opened yet (a full disk)
is retried like a write, and the training script never sees the error.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from tuitune.in_trial.queued_writer import Item, QueuedWriter, say_write_error

if TYPE_CHECKING:
    from tuitune.store import RunStore

FLUSH_INTERVAL = 0.2  # seconds; bounds report-to-store latency


class Sink(Protocol):
    def write_points(self, points: Sequence[tuple[int, str, float, float]]) -> None: ...
    def set_checkpoint(self, path: str, step: int) -> None: ...
    def ack_changes(self, change_ids: Sequence[int], step: int) -> None: ...
    def poll_control(self) -> tuple[bool, list[tuple[int, str, Any]]]: ...
    def flush(self) -> None: ...
    def finish(self) -> bool: ...


class NullSink:
    """Used when the script runs outside tuitune: accepts everything, keeps nothing."""

    def write_points(self, points: Sequence[tuple[int, str, float, float]]) -> None:
        pass

    def set_checkpoint(self, path: str, step: int) -> None:
        pass

    def ack_changes(self, change_ids: Sequence[int], step: int) -> None:
        pass

    def poll_control(self) -> tuple[bool, list[tuple[int, str, Any]]]:
        return False, []

    def flush(self) -> None:
        pass

    def finish(self) -> bool:
        return True


class SqliteSink:
    """Batches a trial's writes into the run store from a daemon thread."""

    def __init__(self, db_path: str, trial_id: int) -> None:
        from tuitune.store import StoreError

        self._db_path = db_path
        self._trial_id = trial_id
        self._store = _try_open(db_path)  # else the writer opens it, retrying
        self._reader = _try_open(db_path)  # control polls never wait behind a write batch
        self._api_marked = False
        # Database and disk errors pass (a lock, a full disk): those batches are retried.
        # A store file that is gone (its run was deleted) will not come back.
        self._writer = QueuedWriter(self._write, FLUSH_INTERVAL, "tuitune-sink",
                                    say_write_error("metrics"), retry_after=0.3,
                                    transient=(sqlite3.Error, StoreError, _Unreachable))

    def write_points(self, points: Sequence[tuple[int, str, float, float]]) -> None:
        self._writer.put("points", list(points))

    def set_checkpoint(self, path: str, step: int) -> None:
        self._writer.put("checkpoint", (path, step))

    def ack_changes(self, change_ids: Sequence[int], step: int) -> None:
        self._writer.put("ack", (list(change_ids), step))

    def poll_control(self) -> tuple[bool, list[tuple[int, str, Any]]]:
        if self._reader is None:
            self._reader = _open(self._db_path)
        trial = self._reader.trial(self._trial_id)
        changes = self._reader.param_changes(self._trial_id, unapplied_only=True)
        return bool(trial and trial.stop_requested), [(c.id, c.name, c.value) for c in changes]

    def flush(self) -> None:
        """Write everything queued so far, from the calling thread (raises if it
        cannot yet; the reports are kept)."""
        self._writer.flush()

    def finish(self) -> bool:
        """Write everything queued, waiting a bounded time for a full disk; never raises."""
        return self._writer.finish()

    def close(self) -> None:
        """Write what is queued, stop the writer thread, close the store."""
        self._writer.close()
        for store in (self._store, self._reader):
            if store is not None:
                store.close()

    def _write(self, items: list[Item]) -> None:
        if self._store is None:
            self._store = _open(self._db_path)
        try:
            self._record(items)
        except Exception as exc:
            if not os.path.exists(self._db_path):  # its run was deleted: that will not pass
                raise FileNotFoundError(f"the run store {self._db_path} was deleted") from exc
            raise

    def _record(self, items: list[Item]) -> None:
        assert self._store is not None
        points = [p for kind, batch in items if kind == "points" for p in batch]
        checkpoints = [payload for kind, payload in items if kind == "checkpoint"]
        acks = [payload for kind, payload in items if kind == "ack"]
        # One transaction for the whole batch: if it fails, the writer retries all of
        # it and nothing is stored twice.
        self._store.record_reports(self._trial_id, points,
                                   checkpoint=checkpoints[-1] if checkpoints else None,
                                   acks=acks, mark_api_seen=not self._api_marked)
        if points:
            self._api_marked = True


class _Unreachable(Exception):
    """The store could not be opened for a reason that may pass (e.g. a full disk)."""


def _open(db_path: str) -> RunStore:
    from tuitune.store import RunStore

    try:
        return RunStore(db_path)
    except FileNotFoundError:
        raise  # not transient: the run folder is gone, and it is never recreated
    except (OSError, sqlite3.Error) as exc:
        raise _Unreachable(f"cannot open the run store {db_path}: {exc}") from exc


def _try_open(db_path: str) -> RunStore | None:
    try:
        return _open(db_path)
    except Exception:  # said and retried by the first write
        return None


def make_sink(environ: dict[str, str] | None = None) -> Sink:
    env = os.environ if environ is None else environ
    db = env.get("TUITUNE_STORE")
    trial_id = env.get("TUITUNE_TRIAL_ID")
    if env.get("TUITUNE_SINK") == "ray" and env.get("TUITUNE_RELAY") and trial_id:
        # A trial on a Ray node: relay through the node's trial actor.
        from tuitune.in_trial.ray_sink import DEFAULT_LIMIT_MB, RaySink

        return RaySink(env["TUITUNE_RELAY"], int(trial_id),
                       float(env.get("TUITUNE_RELAY_LIMIT_MB") or DEFAULT_LIMIT_MB))
    if not db or not trial_id:
        return NullSink()
    return SqliteSink(db, int(trial_id))
