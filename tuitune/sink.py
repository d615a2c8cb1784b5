"""Where a trial's reports go. The one place that picks the channel by environment.

Locally the trial writes straight into the run's SQLite store; a remote executor
can add its own sink (a relay through the node) behind the same small interface.
Writes are queued and flushed by a background thread so `report()` never blocks
the training loop, and are flushed at exit.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol

from tuitune._queued_writer import Item, QueuedWriter, say_write_error

FLUSH_INTERVAL = 0.2  # seconds; bounds report-to-store latency


class Sink(Protocol):
    def write_points(self, points: Sequence[tuple[int, str, float, float]]) -> None: ...
    def set_checkpoint(self, path: str, step: int) -> None: ...
    def ack_changes(self, change_ids: Sequence[int], step: int) -> None: ...
    def poll_control(self) -> tuple[bool, list[tuple[int, str, Any]]]: ...
    def flush(self) -> None: ...


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


class SqliteSink:
    """Batches a trial's writes into the run store from a daemon thread."""

    def __init__(self, db_path: str, trial_id: int) -> None:
        from tuitune.store import RunStore, StoreError

        self._trial_id = trial_id
        self._store = RunStore(db_path)
        self._reader = RunStore(db_path)  # control polls never wait behind a write batch
        self._api_marked = False
        # Database and disk errors pass (a lock, a full disk): those batches are retried.
        self._writer = QueuedWriter(self._write, FLUSH_INTERVAL, "tuitune-sink",
                                    say_write_error("metrics"),
                                    transient=(sqlite3.Error, StoreError, OSError))

    def write_points(self, points: Sequence[tuple[int, str, float, float]]) -> None:
        self._writer.put("points", list(points))

    def set_checkpoint(self, path: str, step: int) -> None:
        self._writer.put("checkpoint", (path, step))

    def ack_changes(self, change_ids: Sequence[int], step: int) -> None:
        self._writer.put("ack", (list(change_ids), step))

    def poll_control(self) -> tuple[bool, list[tuple[int, str, Any]]]:
        trial = self._reader.trial(self._trial_id)
        changes = self._reader.param_changes(self._trial_id, unapplied_only=True)
        return bool(trial and trial.stop_requested), [(c.id, c.name, c.value) for c in changes]

    def flush(self) -> None:
        """Write everything queued so far, from the calling thread."""
        self._writer.flush()

    def close(self) -> None:
        """Write what is queued, stop the writer thread, close the store."""
        self._writer.close()
        self._store.close()
        self._reader.close()

    def _write(self, items: list[Item]) -> None:
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


def make_sink(environ: dict[str, str] | None = None) -> Sink:
    env = os.environ if environ is None else environ
    db = env.get("TUITUNE_STORE")
    trial_id = env.get("TUITUNE_TRIAL_ID")
    if env.get("TUITUNE_SINK") == "ray" and env.get("TUITUNE_RELAY") and trial_id:
        # A trial on a Ray node: relay through the node's trial actor.
        from tuitune.ray_sink import DEFAULT_LIMIT_MB, RaySink

        return RaySink(env["TUITUNE_RELAY"], int(trial_id),
                       float(env.get("TUITUNE_RELAY_LIMIT_MB") or DEFAULT_LIMIT_MB))
    if not db or not trial_id:
        return NullSink()
    return SqliteSink(db, int(trial_id))
