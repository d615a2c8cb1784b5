"""The trial-side sink for trials that run on a Ray node (TUITUNE_SINK=ray).

A remote trial cannot open the supervisor's SQLite file, so it appends its
reports as JSON lines to a relay folder on its own node; the node's trial actor
(tuitune.executors.ray_node.TrialRunner) reads them and hands them to the
supervisor through Ray. Commands come the other way: the actor keeps
`control.json` in the same folder up to date and `poll_control()` reads it.

Nothing here imports Ray, opens a socket or talks to the network: the relay is a
few files in a folder only this user can read. Reports survive a supervisor that
is briefly unreachable because the files are the buffer. The buffer is bounded
(TUITUNE_RELAY_LIMIT_MB, 256 MB by default): past it, metric points are dropped,
the trial's log says so once, and a `dropped` record tells the supervisor how many
were lost when there is room again. Checkpoint locations and tweak acks are tiny
and never dropped.

Relay format, one JSON object per line, in files `seg-00000001.jsonl`, ...:
    {"p": [[step, name, value, t], ...]}   metric points
    {"c": [path, step]}                    latest checkpoint
    {"a": [[change ids], step]}            tweaks applied from `step`
    {"d": count}                           points dropped while the buffer was full
A writer only ever appends whole lines to the newest segment and starts a new
one past SEGMENT_BYTES; the reader deletes segments once the supervisor stored them.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tuitune.in_trial.queued_writer import Item, QueuedWriter, say_write_error

FLUSH_INTERVAL = 0.05  # seconds; appending to a local file is cheap, latency matters
SEGMENT_BYTES = 4 << 20
DEFAULT_LIMIT_MB = 256.0
CONTROL_FILE = "control.json"
SEGMENT_PREFIX = "seg-"
SEGMENT_SUFFIX = ".jsonl"


def segment_name(index: int) -> str:
    return f"{SEGMENT_PREFIX}{index:08d}{SEGMENT_SUFFIX}"


def segment_index(name: str) -> int | None:
    if not (name.startswith(SEGMENT_PREFIX) and name.endswith(SEGMENT_SUFFIX)):
        return None
    digits = name[len(SEGMENT_PREFIX):-len(SEGMENT_SUFFIX)]
    return int(digits) if digits.isdigit() else None


def list_segments(folder: Path) -> list[int]:
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(i for i in (segment_index(n) for n in names) if i is not None)


def read_control(folder: Path) -> tuple[bool, list[tuple[int, str, Any]]]:
    """What the supervisor last said: (stop requested, unapplied tweaks)."""
    try:
        data = json.loads((folder / CONTROL_FILE).read_text())
    except FileNotFoundError:
        return False, []
    return bool(data.get("stop")), [(int(i), str(n), v) for i, n, v in data.get("changes", [])]


def write_control(folder: Path, stop: bool, changes: Sequence[tuple[int, str, Any]]) -> None:
    """Replace control.json atomically: a reader sees the old or the new one, whole."""
    tmp = folder / f".{CONTROL_FILE}.{os.getpid()}.{threading.get_ident()}"
    tmp.write_text(json.dumps({"stop": bool(stop), "changes": [list(c) for c in changes]}))
    os.replace(tmp, folder / CONTROL_FILE)


class RaySink:
    """Appends a trial's reports to its node's relay folder from a daemon thread."""

    def __init__(self, relay_dir: str, trial_id: int, limit_mb: float = DEFAULT_LIMIT_MB,
                 flush_interval: float = FLUSH_INTERVAL) -> None:
        self._dir = Path(relay_dir)
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._trial_id = trial_id
        self._limit = int(limit_mb * (1 << 20))
        segments = list_segments(self._dir)
        self._segment = segments[-1] if segments else 1
        self._segment_size = self._size(self._segment)
        self._dropped = 0  # points dropped and not yet reported
        self._full = False
        self._acked: set[int] = set()  # tweaks applied here; control.json may lag behind
        self._writer = QueuedWriter(self._write, flush_interval, "tuitune-ray-sink",
                                    say_write_error("reports to the relay"), retry_after=1.0,
                                    counted="p")  # bounded in memory like the local sink

    # -- Sink protocol ------------------------------------------------------------------
    def write_points(self, points: Sequence[tuple[int, str, float, float]]) -> None:
        self._writer.put("p", [list(p) for p in points])

    def set_checkpoint(self, path: str, step: int) -> None:
        self._writer.put("c", [str(path), int(step)])

    def ack_changes(self, change_ids: Sequence[int], step: int) -> None:
        self._acked.update(int(c) for c in change_ids)
        self._writer.put("a", [[int(c) for c in change_ids], int(step)])

    def poll_control(self) -> tuple[bool, list[tuple[int, str, Any]]]:
        stop, changes = read_control(self._dir)
        return stop, [c for c in changes if c[0] not in self._acked]

    def flush(self) -> None:
        self._writer.flush()

    def finish(self) -> bool:
        return self._writer.finish()

    def close(self) -> None:
        """Write what is queued and stop the writer thread."""
        self._writer.close()

    # -- writing --------------------------------------------------------------------------
    def _write(self, items: list[Item]) -> None:
        full = self._buffered() >= self._limit
        if full and not self._full:
            print(f"tuitune: the relay buffer on this node is full ({self._limit >> 20} MB "
                  "not yet collected by the supervisor); metric points are dropped until it "
                  "catches up", file=sys.stderr, flush=True)
        self._full = full
        # Counted locally and kept only once the write succeeds: a failed batch is
        # retried whole, so its drops must not be counted (or reported) twice.
        dropped = self._dropped
        lines: list[str] = []
        if not full and dropped:
            lines.append(json.dumps({"d": dropped}))
            dropped = 0
        for kind, payload in items:
            if kind == "p" and full:
                dropped += len(payload)
                continue
            lines.append(json.dumps({kind: payload}))
        if lines:
            self._append(("\n".join(lines) + "\n").encode())
        self._dropped = dropped

    def _append(self, data: bytes) -> None:
        if self._segment_size and self._segment_size + len(data) > SEGMENT_BYTES:
            self._segment += 1
            self._segment_size = 0
        fd = os.open(self._dir / segment_name(self._segment),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            start = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:  # whole lines only, so the reader never sees half a record
                    written = os.write(fd, view)
                    view = view[written:]
            except OSError:
                # The batch is retried whole: take back the part written. Known limit:
                # a reader that took whole lines from that part in the microseconds
                # before this truncate gets them again on the retry (disk full only).
                os.ftruncate(fd, start)
                raise
        finally:
            os.close(fd)
        self._segment_size += len(data)

    def _size(self, index: int) -> int:
        try:
            return (self._dir / segment_name(index)).stat().st_size
        except FileNotFoundError:
            return 0

    def _buffered(self) -> int:
        """Bytes written and not yet collected (the reader deletes collected segments)."""
        if self._segment_size + SEGMENT_BYTES < self._limit and len(list_segments(self._dir)) <= 1:
            return self._segment_size
        return sum(self._size(i) for i in list_segments(self._dir))
