"""Opening a run reads every trial's values from the store's kept summaries; a run
written before they were kept (schema 1) still opens with the same values; a writer
going on while the run opens is neither blocked nor counted twice."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import time

import pytest
from ui_helpers import FIXED_NOW, build_fixed_run

from tuitune.core.spec import load_spec_json
from tuitune.store import RunStore
from tuitune.ui.model import RunModel

WRITER = """
import sys, time
from tuitune.store import RunStore
store, tid = RunStore(sys.argv[1]), int(sys.argv[2])
step = 1000
while True:  # until killed: keeps the run's store busy while the TUI opens
    store.add_metrics(tid, [(step + i, "val_loss", 0.001 * (i % 7), time.time()) for i in range(5)])
    if step == 1000:
        print("writing", flush=True)
    step += 5
"""


def _model(run_dir):
    store = RunStore(run_dir)
    spec = load_spec_json(store.meta()["spec"])
    store.close()
    return RunModel(run_dir, spec, clock=lambda: FIXED_NOW)


def _open(run_dir):
    """(polls it took, every row) after opening; the rows on screen are trials 1-2."""
    model = _model(run_dir)
    model.set_visible([1, 2])
    rows, polls = {}, 0
    while model.pending or polls == 0:
        rows.update(model.poll().rows)
        polls += 1
    model.close()
    return polls, rows


def _values(row):
    return (row.step, repr(row.latest), row.best, row.n_points)


def _as_schema_1(run_dir):
    conn = sqlite3.connect(run_dir / "store.db")
    conn.execute("DROP TABLE metric_summary")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def test_a_run_from_before_summaries_opens_with_the_same_values(tmp_path):
    new_polls, new_rows = _open(build_fixed_run(tmp_path / "new"))
    old_run = build_fixed_run(tmp_path / "old")
    _as_schema_1(old_run)
    old_polls, old_rows = _open(old_run)
    assert (new_polls, old_polls) == (2, 3)  # values with the trials, or in a pass of their own
    assert {t: _values(r) for t, r in old_rows.items()} == {
        t: _values(r) for t, r in new_rows.items()}
    assert math.isnan(new_rows[12].latest) and new_rows[12].best is not None  # diverged


@pytest.mark.parametrize("tid", [1, 5], ids=["running, curve read", "finished, off screen"])
def test_a_live_writer_is_not_blocked_nor_counted_twice(tmp_path, tid):
    run_dir = build_fixed_run(tmp_path)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(run_dir), str(tid)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "writing"
        model = _model(run_dir)
        model.set_visible([2])
        rows = {}
        for _ in range(6):
            rows.update(model.poll().rows)
            time.sleep(0.02)
        assert not model.pending
    finally:
        writer.kill()
        writer.wait()
    rows.update(model.poll().rows)  # the points written since the last poll
    store = RunStore(run_dir)
    points = store.curve(tid, "val_loss")
    assert len(points) > 40  # the writer wrote while the run opened
    assert rows[tid].n_points == len(points) and rows[tid].step == points[-1][0]
    assert rows[tid].best == min(v for _, v in points)
    model.close()
    store.close()
