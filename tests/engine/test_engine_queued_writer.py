"""The queued background writer behind both trial-side sinks: nothing queued is lost
or written twice, a failed batch keeps its place ahead of later reports, and
close() writes the rest. The SQLite sink is driven against a real run store."""

from __future__ import annotations

import threading
import time

import pytest

from tuitune.in_trial.queued_writer import DroppedPoints, GaveUp, QueuedWriter, RejectedItems
from tuitune.in_trial.sink import SqliteSink
from tuitune.store import RunStore, StoreError


class FlakyTarget:
    """Records batches; the first `fail` writes raise."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.batches: list[list[tuple[str, object]]] = []

    def write(self, items):
        if self.fail:
            self.fail -= 1
            raise OSError("disk full")
        self.batches.append(list(items))


def test_a_failed_batch_keeps_its_place_ahead_of_reports_made_during_the_write():
    writer: QueuedWriter | None = None
    batches: list[list[tuple[str, object]]] = []

    def write(items):
        if not batches and ("c", "second") not in items:
            writer.put("c", "second")  # the training thread reports while the disk hangs
            batches.append([])
            raise OSError("disk full")
        batches.append(list(items))
    writer = QueuedWriter(write, 3600, "test-writer", lambda exc: None)
    try:
        writer.put("c", "first")
        with pytest.raises(OSError):
            writer.flush()
        writer.flush()
        assert batches[1:] == [[("c", "first"), ("c", "second")]]  # the latest stays last
        writer.flush()  # nothing new: no empty batch
        assert len(batches) == 2
    finally:
        writer.close()


def test_the_thread_retries_says_so_once_and_close_writes_the_rest():
    target = FlakyTarget(fail=3)
    errors: list[Exception] = []
    writer = QueuedWriter(target.write, 0.01, "test-writer", errors.append)
    writer.put("p", 1)
    deadline = time.monotonic() + 10
    while target.fail and time.monotonic() < deadline:  # three failed tries
        time.sleep(0.01)
    writer.put("p", 2)
    writer.close()
    assert [v for b in target.batches for _, v in b] == [1, 2]  # each once, in order
    assert len(errors) == 1 and isinstance(errors[0], OSError)  # one outage, said once
    writer.put("p", 3)  # after close: written only by an explicit flush
    writer.flush()
    assert target.batches[-1] == [("p", 3)]


def test_concurrent_reporters_lose_nothing_and_keep_their_order():
    target = FlakyTarget()
    writer = QueuedWriter(target.write, 0.001, "test-writer", lambda exc: None)

    def report(who: int) -> None:
        for i in range(5000):
            writer.put("p", (who, i))
            if i % 1000 == 0:
                writer.flush()  # the training thread flushing beside the writer thread
    threads = [threading.Thread(target=report, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    written = [v for b in target.batches for _, v in b]
    assert len(written) == 20000
    for who in range(4):
        assert [i for w, i in written if w == who] == list(range(5000))


def test_sqlite_sink_loses_nothing_across_a_full_disk_and_the_last_checkpoint_wins(
        tmp_path):
    store = RunStore(tmp_path, create=True)
    tid = store.create_trial({"x": 1}, "manual", "test")
    store.close()
    sink = SqliteSink(str(tmp_path / "store.db"), tid)
    try:
        sink._store._conn.execute("PRAGMA max_page_count = 30")  # noqa: SLF001
        for step in range(2000):
            sink.write_points([(step, "loss", 1.0 / (step + 1), 0.0)])
        sink.set_checkpoint("ckpt-a", 1999)
        with pytest.raises(StoreError):
            sink.flush()
        sink.set_checkpoint("ckpt-b", 2500)  # a later checkpoint, reported meanwhile
        sink._store._conn.execute("PRAGMA max_page_count = 1000000")  # noqa: SLF001
    finally:
        sink.close()
    store = RunStore(tmp_path)
    try:
        assert len(store.metrics(trial_id=tid, name="loss")) == 2000
        trial = store.trial(tid)
        assert (trial.checkpoint, trial.checkpoint_step) == ("ckpt-b", 2500)
    finally:
        store.close()


def test_a_batch_that_fails_after_its_points_is_retried_without_storing_them_twice(tmp_path):
    store = RunStore(tmp_path, create=True)
    tid = store.create_trial({"x": 1}, "manual", "test")
    change = store.add_param_change(tid, "x", 2, "test")
    store.close()
    sink = SqliteSink(str(tmp_path / "store.db"), tid)
    conn = sink._store._conn  # noqa: SLF001
    try:
        # The points insert fine; the checkpoint update in the same batch then fails.
        conn.execute("CREATE TEMP TRIGGER no_ckpt BEFORE UPDATE OF checkpoint ON trials"
                     " BEGIN SELECT RAISE(ABORT, 'checkpoint refused'); END")
        sink.write_points([(step, "loss", 1.0 / step, 0.0) for step in range(1, 11)])
        sink.ack_changes([change], 5)
        sink.set_checkpoint("ckpt-10", 10)
        with pytest.raises(Exception, match="checkpoint refused"):
            sink.flush()
        conn.execute("DROP TRIGGER no_ckpt")
        sink.flush()
    finally:
        sink.close()
    store = RunStore(tmp_path)
    try:
        assert [p.step for p in store.metrics(trial_id=tid, name="loss")] == list(range(1, 11))
        trial = store.trial(tid)
        assert (trial.checkpoint, trial.checkpoint_step, trial.api_seen) == ("ckpt-10", 10, 1)
        assert [c.applied_step for c in store.param_changes(tid)] == [5]
    finally:
        store.close()


def test_a_bad_item_is_set_aside_and_the_rest_written_in_order():
    """A failure that will not pass (not `transient`) must not block later reports
    forever: the batch is written item by item and only the bad item is set aside."""
    stored: list[object] = []
    errors: list[Exception] = []

    def write(items):
        if any(v == "poison" for _, v in items):
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        stored.extend(v for _, v in items)
    writer = QueuedWriter(write, 3600, "test-writer", errors.append)
    try:
        for value in ("a", "poison", "b"):
            writer.put("p", value)
        writer.flush()
        writer.put("p", "c")
        writer.flush()
    finally:
        writer.close()
    assert stored == ["a", "b", "c"]
    assert len(errors) == 1 and isinstance(errors[0], RejectedItems)
    assert errors[0].items == [("p", "poison")]
    assert "1 report(s) could not be stored" in str(errors[0])


def test_ctrl_c_during_a_write_keeps_what_was_drained():
    stored: list[object] = []
    interrupt = [True]

    def write(items):
        if interrupt.pop() if interrupt else False:
            raise KeyboardInterrupt
        stored.extend(v for _, v in items)
    writer = QueuedWriter(write, 3600, "test-writer", lambda exc: None)
    try:
        writer.put("p", 1)
        writer.put("p", 2)
        with pytest.raises(KeyboardInterrupt):
            writer.flush()
        writer.flush()
    finally:
        writer.close()
    assert stored == [1, 2]


def test_sqlite_sink_stores_good_reports_around_one_it_cannot(tmp_path, capfd):
    store = RunStore(tmp_path, create=True)
    tid = store.create_trial({"x": 1}, "manual", "test")
    store.close()
    sink = SqliteSink(str(tmp_path / "store.db"), tid)
    try:
        sink.write_points([(1, "loss", 0.5, 0.0)])
        sink.write_points([(1 << 70, "loss", 0.4, 0.0)])  # past SQLite's INTEGER
        sink.write_points([(2, "loss", 0.3, 0.0)])
        sink.flush()
        sink.write_points([(3, "loss", 0.2, 0.0)])
    finally:
        sink.close()
    store = RunStore(tmp_path)
    try:
        assert [(p.step, p.value) for p in store.metrics(trial_id=tid)] == [
            (1, 0.5), (2, 0.3), (3, 0.2)]
    finally:
        store.close()
    err = capfd.readouterr().err
    assert err.count("could not be stored and were set aside") == 1


def test_report_refuses_a_step_the_store_cannot_hold(monkeypatch, tmp_path):
    import tuitune.in_trial.trial as tt

    written: list[object] = []

    class Recorder:
        def write_points(self, points):
            written.extend(points)
    monkeypatch.setattr(tt, "_get_sink", lambda: Recorder())
    for bad in (1 << 63, float("inf"), float("nan"), "three"):
        with pytest.raises(ValueError, match="step must be a whole number"):
            tt.report(bad, loss=1.0)
    tt.report(7.0, loss=1.0, note="not a number", big=10 ** 400)
    assert [(s, n, v) for s, n, v, _ in written] == [(7, "loss", 1.0)]


def test_past_the_limit_the_oldest_points_are_dropped_counted_and_said_once():
    stored: list[tuple[str, object]] = []
    full = [True]
    told: list[Exception] = []

    def write(items):
        if full[0]:
            raise OSError(28, "No space left on device")
        stored.extend(items)
    writer = QueuedWriter(write, 3600, "test-writer", told.append, limit=10)
    try:
        writer.put("checkpoint", "ckpt-0")
        for step in range(1, 8):  # two points a report: 14 in all, 10 held
            writer.put("points", [(step, "loss"), (step, "acc")])
        with pytest.raises(OSError):
            writer.flush()
        writer.put("checkpoint", "ckpt-7")
        assert writer.waiting == 10
        full[0] = False
        assert writer.finish() is False  # all written, but some had been dropped
    finally:
        writer.close()
    points = [p for kind, batch in stored if kind == "points" for p in batch]
    assert [s for s, _ in points] == [3, 3, 4, 4, 5, 5, 6, 6, 7, 7]  # the latest kept
    assert [p for k, p in stored if k == "checkpoint"] == ["ckpt-0", "ckpt-7"]  # in order
    drops = [e for e in told if isinstance(e, DroppedPoints)]
    assert [e.count for e in drops] == [2, 4]  # said once when it began, the total at exit
    assert "dropping the oldest" in str(drops[0]) and "4 metric point(s)" in str(drops[1])


def test_the_thread_survives_an_error_it_cannot_print_and_writes_when_space_returns():
    stored: list[object] = []
    full = threading.Event()
    full.set()
    tried = threading.Event()

    def write(items):
        tried.set()
        if full.is_set():
            raise OSError(28, "No space left on device")
        stored.extend(v for _, v in items)

    def say(exc: Exception) -> None:
        raise OSError(28, "No space left on device")  # stderr is on the same full disk
    writer = QueuedWriter(write, 0.01, "test-writer", say)
    try:
        writer.put("p", 1)
        assert tried.wait(10)
        time.sleep(0.1)  # several failed tries
        writer.put("p", 2)
        full.clear()
        deadline = time.monotonic() + 10
        while stored != [1, 2] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stored == [1, 2]  # by the thread, long before any exit
        assert writer._thread.is_alive()  # noqa: SLF001
    finally:
        writer.close()


def test_at_exit_it_waits_for_the_disk_a_bounded_time_then_says_what_it_gave_up():
    told: list[Exception] = []
    stored: list[object] = []
    frees_at = time.monotonic() + 0.5

    def write(items):
        if time.monotonic() < frees_at:
            raise OSError(28, "No space left on device")
        stored.extend(v for _, v in items)
    writer = QueuedWriter(write, 3600, "test-writer", told.append, exit_patience=5)
    writer.put("points", [1, 2])
    assert writer.finish() is True and stored == [[1, 2]]  # waited for the space

    never = QueuedWriter(lambda items: (_ for _ in ()).throw(OSError(28, "disk full")), 3600,
                         "test-writer", told.append, exit_patience=0.3)
    never.put("points", [1, 2, 3])
    started = time.monotonic()
    assert never.finish() is False
    assert time.monotonic() - started < 5
    gave_up = [e for e in told if isinstance(e, GaveUp)]
    assert len(gave_up) == 1 and gave_up[0].count == 3
    assert "3 metric point(s)" in str(gave_up[0])
    writer.close()
