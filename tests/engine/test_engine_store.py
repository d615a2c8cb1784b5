"""The store under stress: concurrent writers, writers killed mid-write, a full disk,
metric floods, databases from a newer tuitune and from an older one; the per-trial
metric summaries it keeps always agree with the points."""

from __future__ import annotations

import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import psutil
import pytest

from tests.support.waiting import wait_for
from tuitune.in_trial.sink import SqliteSink
from tuitune.store import RunStore, StoreError, StoreVersionError
from tuitune.store.schema import SCHEMA_VERSION

WRITER = """
import sys, time
from tuitune.store import RunStore
store = RunStore(sys.argv[1])
tid, batches = int(sys.argv[2]), int(sys.argv[3])
print("ready", flush=True)
for b in range(batches):
    # 10 points per transaction: a batch is stored whole or not at all
    store.add_metrics(tid, [(b, f"m{i}", float(b), time.time()) for i in range(10)])
print("done", flush=True)
"""

# Forks a WRITER (as above, without end) for each trial id it reads and prints the
# child's pid once its store is open: a writer per round without a new interpreter.
FORKING_WRITERS = """
import os, signal, sys, time
from tuitune.store import RunStore
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the killed writers are reaped at once
for line in iter(sys.stdin.readline, ""):
    tid = int(line)
    if os.fork() == 0:
        store = RunStore(sys.argv[1])
        print(os.getpid(), flush=True)
        for b in range(100000):
            store.add_metrics(tid, [(b, f"m{i}", float(b), time.time()) for i in range(10)])
        os._exit(0)
"""


@pytest.fixture
def store_path(tmp_path):
    store = RunStore(tmp_path, create=True)
    for _ in range(8):
        store.create_trial({"x": 1}, "manual", "test")
    store.close()
    return tmp_path


def _writer(path, tid, batches):
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(tid), str(batches)],
                            stdout=subprocess.PIPE, text=True)


def test_concurrent_writer_processes_lose_no_point(store_path):
    procs = [_writer(store_path, tid, 200) for tid in range(1, 9)]
    for p in procs:
        assert p.wait(timeout=120) == 0
        assert p.stdout.read().split() == ["ready", "done"]
    store = RunStore(store_path)
    for tid in range(1, 9):
        assert len(store.metrics(trial_id=tid)) == 2000
    kept = store.metric_summaries("m3")
    assert [(s.trial_id, s.points, s.last_step, s.last_value, s.min_value, s.max_value)
            for s in kept] == [(tid, 200, 199, 199.0, 0.0, 199.0) for tid in range(1, 9)]


def test_writers_killed_at_random_moments_leave_whole_batches(store_path):
    rng = random.Random(7)
    forker = subprocess.Popen([sys.executable, "-c", FORKING_WRITERS, str(store_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(12):
            pids = []
            for tid in (1, 2, 3):
                forker.stdin.write(f"{tid}\n")
                forker.stdin.flush()
                pids.append(int(forker.stdout.readline()))
            time.sleep(0.05 + rng.random() * 0.3)  # then die somewhere mid-write
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not any(psutil.pid_exists(pid) for pid in pids), 30,
                     "the killed writers to be gone")
    finally:
        forker.kill()
        forker.wait()
    conn = sqlite3.connect(store_path / "store.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # Each transaction wrote 10 points for one (trial, step): never a partial batch.
    counts = conn.execute("SELECT COUNT(*) FROM metrics GROUP BY trial_id, step").fetchall()
    assert counts and {c for (c,) in counts} <= {10, 20, 30, 40, 50, 60, 70, 80, 90, 100,
                                                110, 120}
    _assert_summaries_match_points(RunStore(store_path))  # written in the same transactions


def test_full_disk_is_a_clear_error_and_corrupts_nothing(store_path):
    store = RunStore(store_path)
    store._conn.execute("PRAGMA max_page_count = 40")  # a tiny "disk"
    with pytest.raises(StoreError, match="full"):
        for step in range(100000):
            store.add_metrics(1, [(step, f"metric_{i}", 1.0, 0.0) for i in range(50)])
    before = store.count_metrics()
    assert before % 50 == 0  # whole batches only
    conn = sqlite3.connect(store_path / "store.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_trial_sink_keeps_points_while_the_disk_is_full_and_writes_them_later(
        store_path, capsys):
    sink = SqliteSink(str(store_path / "store.db"), 2)
    sink._store._conn.execute("PRAGMA max_page_count = 30")
    for step in range(2000):
        sink.write_points([(step, "loss", 1.0 / (step + 1), 0.0), (step, "acc", 0.5, 0.0)])
    with pytest.raises(StoreError):
        sink.flush()
    sink._store._conn.execute("PRAGMA max_page_count = 1000000")  # space again
    sink.flush()
    store = RunStore(store_path)
    assert len(store.metrics(trial_id=2, name="loss")) == 2000
    assert len(store.metrics(trial_id=2, name="acc")) == 2000


def test_a_metric_flood_is_batched_without_losing_points(store_path):
    env = dict(os.environ, TUITUNE_STORE=str(store_path / "store.db"), TUITUNE_TRIAL_ID="3")
    code = ("import time, tuitune.in_trial.trial as tt\n"
            "t = time.perf_counter()\n"
            "for s in range(100000): tt.report(s, loss=1.0, acc=0.5)\n"
            "print(time.perf_counter() - t)\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    store = RunStore(store_path)
    assert len(store.metrics(trial_id=3)) == 200000


def test_a_newer_schema_is_refused_with_a_clear_message(store_path):
    conn = sqlite3.connect(store_path / "store.db")
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    with pytest.raises(StoreVersionError, match="newer tuitune"):
        RunStore(store_path)


def test_supervisor_survives_a_full_store_and_says_so(tmp_path, tt_home):
    from tests.support.specs import write_spec
    from tests.support.waiting import wait_for
    from tuitune.core.spec import load_spec
    from tuitune.engine.runs import create_run
    from tuitune.engine.supervisor import Supervisor

    spec = write_spec(tmp_path / "exp", steps=400, sleep=0.02)
    run_dir = create_run(load_spec(spec), tt_home / "runs")
    said = []
    sup = Supervisor(run_dir, echo=said.append)
    sup.register()
    sup.store.enqueue_command("new", {"params": sup.spec.space.defaults()}, "user")
    wait_for(lambda: (sup.tick(), 1 in sup.handles)[1], what="running")
    pages = sup.store._conn.execute("PRAGMA page_count").fetchone()[0]
    sup.store._conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full now
    front_end = RunStore(run_dir)
    for i in range(100):  # commands whose events need new pages
        front_end.enqueue_command("note", {"trial_id": 1, "text": f"{i} " + "x" * 2000}, "user")
    wait_for(lambda: (sup.tick(), any("error: cannot write" in s for s in said))[1],
             what="the error")
    assert sup.executor.poll(sup.handles[1]) is None  # the trial still runs
    sup.store._conn.execute("PRAGMA max_page_count = 1000000")
    wait_for(lambda: (sup.tick(), any("writable again" in s for s in said))[1], what="recovery")
    wait_for(lambda: (sup.tick(), not front_end.pending_commands())[1], what="commands done")
    assert sup.store.trial(1).note.startswith("99 ")
    sup.trials.stop_experiment("test")
    wait_for(lambda: (sup.tick(), not sup.handles)[1], what="stopped")
    sup.close()


# -- metric summaries -----------------------------------------------------------------------
def _key(s):
    """A summary as a comparable tuple (NaN equal to NaN)."""
    last = "nan" if math.isnan(s.last_value) else s.last_value
    return (s.trial_id, s.name, s.points, s.last_step, last, s.min_value, s.max_value)


def _from_curves(store, name):
    """The summaries worked out in Python from the points read back in step order."""
    out = []
    for t in store.trials():
        points = store.curve(t.id, name)
        if not points:
            continue
        finite = [v for _, v in points if math.isfinite(v)]
        last = points[-1][1]
        out.append((t.id, name, len(points), points[-1][0], "nan" if math.isnan(last) else last,
                    min(finite, default=None), max(finite, default=None)))
    return out


def _assert_summaries_match_points(store):
    last = store.last_metric_id()
    for name in store.metric_names():
        kept = [_key(s) for s in store.metric_summaries(name)]
        assert kept == [_key(s) for s in store.compute_metric_summaries(name, last)]
        assert kept == _from_curves(store, name)


def test_kept_summaries_match_the_points_whatever_arrives(store_path):
    """NaN, infinities, steps out of order and repeated, in batches of any size."""
    rng = random.Random(3)
    store = RunStore(store_path)
    assert store.summarized
    odd = [math.nan, math.inf, -math.inf]
    for _ in range(300):
        tid = rng.randint(1, 4)
        batch = [(rng.randint(0, 60), rng.choice(["loss", "acc", "lr"]),
                  rng.choice(odd) if rng.random() < 0.15 else rng.uniform(-5, 5), 0.0)
                 for _ in range(rng.randint(1, 12))]
        store.add_metrics(tid, batch)
    store.add_metrics(5, [(1, "loss", math.nan, 0.0), (2, "loss", math.inf, 0.0)])
    _assert_summaries_match_points(store)
    only_odd = {s.trial_id: s for s in store.metric_summaries("loss")}[5]
    assert only_odd.min_value is None and only_odd.best("max") is None
    assert only_odd.last_step == 2 and only_odd.last_value == math.inf


def _as_schema_1(path):
    """Turn a store into one written by the tuitune before summaries (schema 1)."""
    conn = sqlite3.connect(path / "store.db")
    conn.execute("DROP TABLE metric_summary")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def test_a_store_from_before_summaries_opens_and_computes_them(store_path):
    store = RunStore(store_path)
    store.add_metrics(1, [(s, "loss", 1.0 / s, 0.0) for s in range(1, 50)])
    store.close()
    _as_schema_1(store_path)
    old = RunStore(store_path)
    assert not old.summarized and old.metric_summaries("loss") is None
    old.add_metrics(1, [(50, "loss", 0.5, 0.0)])  # still writable, by this tuitune too
    [s] = old.compute_metric_summaries("loss", old.last_metric_id())
    assert (s.points, s.last_step, s.last_value, s.min_value) == (50, 50, 0.5, 1.0 / 49)
    assert old.metric_names() == ["loss"]
    assert old.compute_metric_summaries("loss", 10)[0].points == 10  # bounded by point id
    old.close()
    conn = sqlite3.connect(store_path / "store.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1  # opening did not migrate


def test_creating_over_a_store_from_before_summaries_migrates_it(store_path):
    store = RunStore(store_path)
    store.add_metrics(2, [(s, "acc", s / 100, 0.0) for s in range(30)] + [(3, "acc", math.nan,
                                                                          0.0)])
    store.close()
    _as_schema_1(store_path)
    migrated = RunStore(store_path, create=True)
    assert migrated.summarized
    _assert_summaries_match_points(migrated)
    migrated.add_metrics(2, [(30, "acc", 0.3, 0.0)])
    _assert_summaries_match_points(migrated)
    conn = sqlite3.connect(store_path / "store.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_snapshot_reads_one_state_while_a_writer_goes_on(store_path):
    reader, writer = RunStore(store_path, readonly=True), RunStore(store_path)
    writer.add_metrics(1, [(1, "loss", 1.0, 0.0)])
    with reader.snapshot():
        before = reader.last_metric_id()
        writer.add_metrics(1, [(2, "loss", 0.5, 0.0)])  # not blocked by the reader
        assert reader.last_metric_id() == before
        assert reader.metric_summaries("loss")[0].points == 1
    assert reader.last_metric_id() == before + 1
    assert reader.metric_summaries("loss")[0].points == 2
