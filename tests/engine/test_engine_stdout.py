"""Metrics parsed from trial output: the parser, the log reader's bounds and resume
position, parameter echoes, and real supervisors facing huge lines and crashes."""

from __future__ import annotations

import math
import os
import signal
import time
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.fake_runs import FakeTrial, ScriptRun, fake_run
from tests.support.processes import cli, supervised
from tests.support.specs import write_spec
from tests.support.waiting import wait_for
from tuitune.core.spec import SpecError, load_spec
from tuitune.core.steps import to_step
from tuitune.engine.feed import TrialFeed
from tuitune.engine.logs import MAX_LINE_BYTES, LogTailer
from tuitune.engine.runs import trial_dir
from tuitune.engine.stdout_metrics import _KERAS_EPOCH, MAX_LINE_CHARS, StdoutMetricParser
from tuitune.store import RunStore, StoreError


# -- the parser ---------------------------------------------------------------------------
def test_parser_reads_keras_and_key_value_lines():
    p = StdoutMetricParser()
    assert p.feed("Epoch 3/10") == []
    bar = "1/9 [=>...] - ETA: 3s - loss: 0.9\b\b\b\r9/9 [=====] - 1s 3ms/step - loss: 0.41 " \
          "- accuracy: 0.88 - val_loss: 0.45"
    assert p.feed(bar) == [(3, "loss", 0.41), (3, "accuracy", 0.88), (3, "val_loss", 0.45)]
    assert p.feed("step=30 loss=0.25, acc=0.5; x/y=2 a=1.5e") == [
        (30, "loss", 0.25), (30, "acc", 0.5), (30, "x/y", 2.0)]
    (step, name, value), = p.feed("epoch 7: val_loss: nan")
    assert (step, name) == (7, "val_loss") and math.isnan(value)
    assert StdoutMetricParser().feed("iter 4 loss=inf")[0][:2] == (4, "loss")


def test_a_key_starts_only_where_a_word_starts():
    # "2loss" is not the name "loss"; "abc.def=1" is one name.
    assert StdoutMetricParser().feed("2loss=0.3 abc.def=1 step=2") == [(2, "abc.def", 1.0)]


def test_long_lines_are_skipped_and_counted_but_shorter_ones_parse():
    p = StdoutMetricParser()
    assert p.feed("y" * (MAX_LINE_CHARS + 1) + " loss=0.3") == []
    assert p.overlong == 1
    words = " ".join(["word"] * (MAX_LINE_CHARS // 10)) + " step=3 loss=0.5"
    assert p.feed(words) == [(3, "loss", 0.5)]
    # A run of word characters as long as the bound parses to nothing, quickly.
    assert p.feed("y" * MAX_LINE_CHARS) == []


def test_parameter_echoes_are_not_metrics():
    p = StdoutMetricParser(not_metrics={"lr", "wd", "layers"})
    assert p.feed("starting with lr=0.0557 wd=0.00094 layers=2") == []
    assert p.feed("step=1 loss=0.5 LR=0.1") == [(1, "loss", 0.5)]


def test_parser_state_round_trips():
    p = StdoutMetricParser()
    p.feed("Epoch 4/10")
    p.feed("acc=0.1")
    q = StdoutMetricParser()
    q.restore(p.state())
    assert q.feed("loss: 0.2") == [(4, "loss", 0.2)]
    assert StdoutMetricParser().feed("acc=0.3") == [(1, "acc", 0.3)]
    r = StdoutMetricParser()
    r.restore({"epoch": None, "counts": {"acc": 5}})
    assert r.feed("acc=0.3") == [(6, "acc", 0.3)]



_ATOMS = ["step", "Epoch", "epoch", "iter", "loss", "val_loss", "x/y", "lr", "ETA", "2loss", "=",
          ":", " ", "\t", ",", ";", ")", "0", "12", "3.5", "1e5", "1e", "-2", ".", "inf", "-inf",
          "nan", "\r", "\b", "\u00e9", "\u0663", "\xa0", "1e30", "Epoch 3/10", " Epoch 2 / 9",
          "12:00:00", "WARNING: the", " loss: 0.41", "acc = -2", "lr=.5"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from(_ATOMS), max_size=10).map("".join), min_size=1,
                max_size=8),
       st.sampled_from([(), ("lr",), ("step",)]))
def test_a_block_of_lines_says_what_its_lines_say_one_by_one(lines, not_metrics):
    # The block reader sifts lines before the exact pattern sees them; the sieve must
    # never drop a line with a pair, nor mix up lines, steps or the state.
    block = StdoutMetricParser(not_metrics)
    said = block.feed_lines("\n".join(lines))
    one = StdoutMetricParser(not_metrics)
    points, first, state = [], -1, {}
    for i, line in enumerate(lines):
        before = one.state()
        line = line.replace("\b", "\r").rsplit("\r", 1)[-1]
        if m := _KERAS_EPOCH.match(line):
            one._epoch = to_step(m.group(1))
        elif one._pairs(line, points) and first < 0:
            first, state = i, before
    assert [(s, n, repr(v)) for s, n, v in said.points] == [
        (s, n, repr(v)) for s, n, v in points]
    assert (said.first, said.state if first >= 0 else {}) == (first, state)
    assert block.state() == one.state()


# -- the log reader -------------------------------------------------------------------
def test_reader_skips_a_10mb_line_in_bounded_memory_and_reads_on(tmp_path):
    log = tmp_path / "log.txt"
    with open(log, "wb") as fh:
        fh.write(b"step=1 loss=0.9\n")
        fh.write(b"y" * (10 << 20))
    tailer = LogTailer(log)
    seen = []
    while True:
        parsed = tailer.read(0.0, hold=False, max_bytes=1 << 20)
        seen += parsed.points
        assert len(tailer._partial) <= MAX_LINE_BYTES  # never holds the whole line
        if parsed.at_end:
            break
    with open(log, "ab") as fh:
        fh.write(b" loss=0.1\nstep=2 loss=0.8\n")
    seen += tailer.read(0.0, hold=False).points
    assert [(s, n, v) for s, n, v, _ in seen] == [(1, "loss", 0.9), (2, "loss", 0.8)]
    assert tailer.overlong == 1


def test_reader_keeps_only_the_last_redraw_of_a_long_progress_line(tmp_path):
    log = tmp_path / "log.txt"
    redraws = "".join(f"\r{i}/50000 [====] - loss: {i / 1e5:.5f}" for i in range(50000))
    log.write_text("Epoch 1/2\n" + redraws + "\n")
    assert len(redraws) > 4 * MAX_LINE_BYTES
    tailer = LogTailer(log)
    points = []
    while not (parsed := tailer.read(0.0, hold=False, max_bytes=64 << 10)).at_end:
        points += parsed.points
    points += parsed.points
    assert [(s, n, v) for s, n, v, _ in points] == [(1, "loss", 0.49999)]
    assert tailer.overlong == 0


@pytest.mark.parametrize("hold", [False, True])
def test_a_reader_started_at_a_stored_position_reads_each_line_once(tmp_path, hold):
    log = tmp_path / "log.txt"
    lines = ["Epoch 1/3", "loss: 0.5", "acc=0.1", "Epoch 2/3", "loss: 0.4", "acc=0.2",
             "caf\u00e9 noise", "Epoch 3/3", "loss: 0.3", "acc=0.3"]
    log.write_text("\n".join(lines[:5]) + "\n")
    first = LogTailer(log)
    got = first.read(0.0, hold=hold)
    if hold:  # still held: the position is the first held line's, with its state
        assert got.points == []
        assert (got.position["offset"], got.position["epoch"]) == (len("Epoch 1/3\n"), 1)
        got = first.read(0.0 + 5, hold=hold)
    position = got.position
    with open(log, "a") as fh:
        fh.write("\n".join(lines[5:]) + "\n")
    second = LogTailer(log, position=position)
    rest = second.read(10.0, hold=False).points
    both = [(s, n, v) for s, n, v, _ in got.points + rest]
    assert both == [(1, "loss", 0.5), (1, "acc", 0.1), (2, "loss", 0.4), (2, "acc", 0.2),
                    (3, "loss", 0.3), (3, "acc", 0.3)]



def test_a_run_from_before_positions_skips_stored_steps_line_by_line(tmp_path):
    # skip_until (no stored position): steps already stored are not read again, and a
    # held line's position is that of the first line with a point left.
    log = tmp_path / "log.txt"
    lines = ["step=1 loss=0.9", "noise: here", "step=2 loss=0.8", "step=3 loss=0.7 acc=0.1"]
    log.write_text("\n".join(lines) + "\n")
    tailer = LogTailer(log, skip_until={"loss": 2, "acc": 0})
    held = tailer.read(0.0, hold=True)
    assert held.points == []
    assert held.position["offset"] == len("\n".join(lines[:3])) + 1
    assert [(s, n, v) for s, n, v, _ in tailer.read(5.0, hold=True).points] == [
        (3, "loss", 0.7), (3, "acc", 0.1)]

def test_points_the_store_refused_are_read_again(tmp_path):
    store = RunStore(tmp_path, create=True)
    tid = store.create_trial({}, "manual", "user")
    log = trial_dir(tmp_path, tid) / "log.txt"
    log.parent.mkdir(parents=True)
    log.write_text("step=1 loss=0.5\n")
    feed = TrialFeed(store, tmp_path, "stdout", time.time)
    feed.attach(tid)
    writes = store.add_parsed_metrics

    def full_disk(*args):
        raise StoreError("database or disk is full")

    store.add_parsed_metrics = full_disk
    with pytest.raises(StoreError):
        feed.read()
    store.add_parsed_metrics = writes
    with open(log, "a") as fh:
        fh.write("step=2 loss=0.4\n")
    feed.read()
    assert [(p.step, p.value) for p in store.metrics(trial_id=tid)] == [(1, 0.5), (2, 0.4)]


def test_an_ended_trials_long_output_is_read_in_chunks_to_the_end(tmp_path, monkeypatch):
    from tuitune.engine import feed as feed_module

    monkeypatch.setattr(feed_module, "FINISH_BUDGET_S", 0.0)  # one chunk, then drain
    store = RunStore(tmp_path, create=True)
    tid = store.create_trial({}, "manual", "user")
    log = trial_dir(tmp_path, tid) / "log.txt"
    log.parent.mkdir(parents=True)
    log.write_text("".join(f"step={i} loss={1 / i}\n" for i in range(1, 20001)))
    feed = TrialFeed(store, tmp_path, "stdout", time.time)
    feed.attach(tid)
    feed.finish(tid)
    assert 0 < store.count_metrics() < 20000  # the rest waits for later reads
    feed.read()
    feed.drain()
    assert [p.step for p in store.metrics(trial_id=tid)] == list(range(1, 20001))


# -- the spec ---------------------------------------------------------------------------
def _spec_with(tmp_path: Path, metrics: str) -> Path:
    return write_spec(tmp_path / "exp", extra=f"\n[metrics]\n{metrics}\n")


def test_spec_metrics_include_and_exclude(tmp_path):
    spec = load_spec(_spec_with(tmp_path, 'include = ["lr"]\nexclude = ["grad_norm"]'))
    assert spec.stdout_not_metrics() == {"units", "steps", "sleep", "grad_norm"}
    assert load_spec(_spec_with(tmp_path, "")).stdout_not_metrics() == {
        "lr", "units", "steps", "sleep"}


@pytest.mark.parametrize("metrics, key, words", [
    ('include = "lr"', "metrics.include", "expected a list of metric names"),
    ("exclude = [1]", "metrics.exclude", "expected a list of metric names"),
    ('exclude = ["a b"]', "metrics.exclude", "is not a metric name"),
    ('include = ["x"]\nexclude = ["x"]', "metrics.exclude", "in metrics.include too"),
    ('exclude = ["loss"]', "metrics.exclude", "metric of [objective]"),
    ('only = ["loss"]', "metrics.only", "unknown key"),
])
def test_spec_metrics_lists_refused_in_one_line(tmp_path, metrics, key, words):
    with pytest.raises(SpecError) as err:
        load_spec(_spec_with(tmp_path, metrics))
    message = str(err.value)
    assert key in message and words in message and "\n" not in message


# -- real supervisors ---------------------------------------------------------------------
def _echoes_its_parameters(t: FakeTrial) -> ScriptRun:
    """Prints its parameters (names the engine must not take for metrics), then three
    steps of `loss`, one a tick, as a script's output would reach its log."""
    p = t.params
    t.print(f"starting with lr={p['lr']} units={p['units']} steps={p['steps']}")
    for step in range(1, 4):
        t.print(f"step={step} loss={1 / step}")
        yield


def _state(run_dir: Path) -> str | None:
    store = RunStore(run_dir)
    try:
        return store.meta(["state"]).get("state")
    finally:
        store.close()


def test_a_scripts_echo_of_its_parameters_is_not_stored(tmp_path):
    # The engine's output reader is under test, not a process: a fake trial's log.
    run = fake_run(tmp_path, _echoes_its_parameters, strategy="random",
                   budget="max_trials = 1", concurrent=1)
    run.until(lambda: run.sup.finished, "the run to finish")
    store = run.store
    assert store.metric_names() == ["loss"]
    assert [p.step for p in store.metrics(trial_id=1)] == [1, 2, 3]
    run.sup.close()


HUGE_LINE_SCRIPT = """
import sys, time
sys.stdout.write("y" * (10 << 20))
sys.stdout.write("\\nstep=1 loss=0.5\\n")
sys.stdout.flush()
time.sleep(300)
"""


@pytest.mark.slow
def test_a_10mb_line_does_not_stop_the_supervisor_answering(tmp_path, tt_home):
    with supervised(tmp_path, tt_home, HUGE_LINE_SCRIPT) as (run_dir, _):
        log = trial_dir(run_dir, 1) / "log.txt"
        wait_for(lambda: b"loss=0.5" in log.read_bytes()[-64:], 60, "the trial's output")
        # Generous for a loaded machine; the quadratic parser needed hours for this line.
        answer = cli("kill", run_dir.name, "1", timeout=60)
        assert answer.returncode == 0, answer.stderr
        wait_for(lambda: RunStore(run_dir).trial(1).state == "killed", 30, "the kill")
        store = RunStore(run_dir)
        assert [(p.step, p.name, p.value) for p in store.metrics(trial_id=1)] == [
            (1, "loss", 0.5)]
        skipped = [e.message for e in store.events() if e.kind == "output_skipped"]
        assert len(skipped) == 1 and "longer than 16,384 characters" in skipped[0]


PRINTER = """
import os, sys, time
for step in range(1, 201):
    print(f"step={step} loss={1.0 / step:.6f}", flush=True)
    time.sleep(0.02 if step < 60 else 0.03)
"""


@pytest.mark.slow
def test_output_printed_while_the_supervisor_was_dead_is_all_stored(tmp_path, tt_home):
    # The resumed supervisor is ended, if need be, by tt_home's cleanup.
    with supervised(tmp_path, tt_home, PRINTER, trials=3) as (run_dir, sup):
        store = RunStore(run_dir)
        wait_for(lambda: all(store.metrics(trial_id=i) for i in (1, 2, 3)), 60,
                 "points from all three trials")
        os.kill(sup.pid, signal.SIGKILL)
        sup.wait(10)
        pids = [store.trial(i).pid for i in (1, 2, 3)]
        wait_for(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status()
                                 != psutil.STATUS_ZOMBIE for p in pids), 60,
                 "the trials to end while no supervisor runs")
        assert store.count_metrics() < 600  # the rest is only in the logs
        answer = cli("resume", run_dir.name)
        assert answer.returncode == 0, answer.stderr
        wait_for(lambda: _state(run_dir) == "finished", 60, "the resumed run to finish")
        for i in (1, 2, 3):
            steps = [p.step for p in store.metrics(trial_id=i, name="loss")]
            assert steps == list(range(1, 201)), f"trial {i}: {len(steps)} points"
            assert store.trial(i).state == "completed"
        assert store.count_metrics() == 600
