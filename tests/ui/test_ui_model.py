"""The non-Textual layer: RunModel's incremental reads, the view, series helpers,
chart and panel drawing, column fitting, ending processes."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import time

import numpy as np
import pytest
from ui_helpers import FIXED_NOW, build_fixed_run, fixed_host

from tuitune.engine.runs import create_run
from tuitune.core.spec import load_spec
from tuitune.store import RunStore
from tuitune.system import FakeGpuSource
from tuitune.system.gpu_procs import end_process
from tuitune.ui.model import SPARK_CELLS, RunModel
from tuitune.ui.series import (
    bar,
    buckets,
    column_minmax,
    ema,
    nice_number,
    overfitting,
    sparkline,
)
from tuitune.ui.system_feed import SystemFeed
from tuitune.ui.view import RunView
from tuitune.ui.widgets.chart import ChartData, Marker, Series, draw
from tuitune.ui.widgets.columns import columns_for, fit_columns
from tuitune.ui.widgets.system_panel import draw_system


def _open(model):
    """The opening polls, as the app does them: the trials with every value, then the
    rows on screen (a store without summaries reads the values in a third). Returns
    the last delta with the rows of them all."""
    first = model.poll()
    assert first.opening and first.full and model.pending
    rows, curves, last = dict(first.rows), {}, first
    while model.pending:
        last = model.poll()
        rows.update(last.rows)
        curves.update(last.curves)
    assert not last.opening
    _open.curves = curves  # wanted curves come with the rows on screen
    return dataclasses.replace(last, rows=rows)


def _model(run_dir):
    store = RunStore(run_dir)
    spec = __import__("tuitune.core.spec", fromlist=["load_spec_json"]).load_spec_json(
        store.meta()["spec"])
    store.close()
    return RunModel(run_dir, spec, clock=lambda: FIXED_NOW), spec


# -- series ------------------------------------------------------------------------------
def test_column_minmax_keeps_spikes_and_skips_nan():
    xs = np.arange(1000)
    ys = np.zeros(1000)
    ys[500] = 9.0
    ys[10] = math.nan
    lo, hi = column_minmax(xs, ys, 0, 1000, 10)
    assert hi[5] == 9.0 and lo[5] == 0.0
    assert np.nanmax(hi) == 9.0 and not np.isnan(lo).any()


def test_sparkline_fixed_scale_and_one_glyph_per_value():
    assert sparkline([0, 50, 100], 3, 0, 100) == "▁▅█"
    assert sparkline([97, 98, 99, 100], 4, 0, 100) == "████"  # no auto-scaled zigzag
    assert sparkline([1.0, math.nan], 4) == "  ▅ "
    assert sparkline([], 3) == "   "


def test_buckets_ema_bar_and_numbers():
    assert buckets([1, 2, 3, 4], 2) == [1.5, 3.5]
    assert len(buckets(list(range(1000)), SPARK_CELLS)) == SPARK_CELLS
    # Slices of 3 and 4 values; non-finite values are left out, an all-NaN slice is NaN.
    got = buckets([1, math.nan, 3, math.inf, math.nan, math.nan, 5, 6, 7, 8], 3)
    assert got[0] == 2.0 and math.isnan(got[1]) and got[2] == 6.5
    smoothed = ema([1.0, 1.0, 1.0])
    assert np.allclose(smoothed, 1.0)  # debiased: a constant stays constant
    assert bar(0.5, 4) == "██  " and bar(None, 3) == "   "
    assert nice_number(0.000123456) == "0.0001235" and nice_number(1234567.0) == "1.235e6"


def test_overfitting_needs_val_worse_and_train_better():
    steps = list(range(10))
    down = [10 - s for s in steps]
    up = [s for s in steps]
    assert overfitting((steps, down), (steps, up), "min")
    assert not overfitting((steps, down), (steps, down), "min")
    assert overfitting((steps, up), (steps, down), "max")
    assert not overfitting((steps[:2], down[:2]), (steps[:2], up[:2]), "min")


# -- model -------------------------------------------------------------------------------
def test_first_poll_reads_aggregates_then_only_what_changed(tmp_path):
    run_dir = build_fixed_run(tmp_path)
    model, spec = _model(run_dir)
    model.set_visible([1, 2])
    model.set_wanted([(1, "loss")])
    first = _open(model)
    assert len(first.rows) == 13
    r1 = first.rows[1]
    assert r1.step == 40 and r1.n_points == 40 and r1.latest is not None
    assert r1.best == min(v for _, v in RunStore(run_dir).curve(1, "val_loss"))
    assert r1.spark is not None and len(r1.spark) == SPARK_CELLS
    assert first.rows[6].spark is None  # finished and off screen: not read yet
    assert first.rows[1].current["lr"] == 0.0005 and first.rows[1].tweaked
    assert first.rows[13].origin_label == "clone #2"
    assert set(_open.curves) == {(1, "loss")} and len(_open.curves[(1, "loss")]) == 40
    assert model._names == {"loss", "val_loss"}
    assert first.header.best_trial is not None and first.header.counts["running"] == 4

    quiet = model.poll()
    assert not quiet.full and quiet.rows == {} and quiet.events == () and quiet.curves == {}

    store = RunStore(run_dir)
    store.add_metrics(2, [(41, "val_loss", 0.01, FIXED_NOW), (41, "acc", 0.9, FIXED_NOW)])
    store.add_metrics(1, [(41, "loss", 0.2, FIXED_NOW)])
    store.transition(3, "killed", "user", "trial 3 killed")
    store.close()
    delta = model.poll()
    assert set(delta.rows) == {1, 2, 3}
    assert delta.rows[2].latest == 0.01 and delta.rows[2].best == 0.01
    assert delta.rows[2].step == 41 and delta.header.best == 0.01
    assert delta.rows[3].state == "killed"
    assert [e.kind for e in delta.events] == ["killed"]
    assert len(delta.curves[(1, "loss")]) == 41  # a wanted curve grows
    assert delta.metric_names == ("acc", "loss", "val_loss")


def test_scrolling_to_a_finished_trial_loads_its_sparkline(tmp_path):
    run_dir = build_fixed_run(tmp_path)
    model, _ = _model(run_dir)
    model.set_visible([1])
    assert _open(model).rows[6].spark is None
    model.set_visible([6])
    delta = model.poll()
    assert delta.rows[6].spark is not None


def test_view_applies_deltas_and_walks_lineage(tmp_path):
    run_dir = build_fixed_run(tmp_path)
    model, _ = _model(run_dir)
    view = RunView()
    view.apply(model.poll())
    assert not view.loaded and len(view.rows) == 13  # trials shown, sparklines pending
    assert view.rows[6].best is not None  # every trial's values come with the trials
    view.apply(model.poll())
    assert view.loaded and view.rows[1].spark  # the sparklines of the rows on screen
    assert [r.id for r in view.lineage(13)] == [13, 2]
    assert [r.id for r in view.children(2)] == [13]
    assert view.starred == [3, 4]
    assert any(e.kind == "tweak_applied" for e in view.trial_events(1))


def test_empty_run(tmp_path):
    from ui_helpers import write_spec

    run_dir = create_run(load_spec(write_spec(tmp_path / "s")), tmp_path / "runs")
    model, _ = _model(run_dir)
    delta = _open(model)
    assert delta.rows == {} and delta.header.best is None and delta.header.budget_used == 0


# -- drawing -----------------------------------------------------------------------------
def _text(lines):
    return ["".join(t for t, _ in line) for line in lines]


def test_chart_draws_braille_axes_and_markers():
    from rich.style import Style

    s = Series("#1", Style(color="cyan"), np.arange(1, 101), 1.0 / np.arange(1, 101))
    data = ChartData("loss", (s,), (Marker(50, "t", Style()),), x_max=100)
    lines = _text(draw(data, 60, 12))
    assert lines[0].startswith(" loss") and "#1" in lines[0]
    plot = "".join(lines[1:-2])
    assert any(0x2800 < ord(c) <= 0x28FF for c in plot)
    assert "t" in lines[-2] and lines[-2].lstrip().startswith("└")
    assert lines[-1].split() == ["0", "100"]
    log = _text(draw(ChartData("loss", (s,), log_y=True), 60, 12))
    assert "1" in log[1] and "0.01" in log[-3]


def test_chart_downsamples_long_curves_quickly():
    from rich.style import Style

    n = 200_000
    s = Series("#1", Style(), np.arange(n), np.sin(np.arange(n) / 1000.0))
    started = time.perf_counter()
    lines = draw(ChartData("x", (s,)), 200, 30)
    assert len(lines) == 30
    assert time.perf_counter() - started < 2.0  # generous: it is a few ms


def test_chart_without_points_says_so():
    lines = _text(draw(ChartData("val_loss", empty="no val_loss points yet"), 60, 10))
    assert any("no val_loss points yet" in ln for ln in lines)


@pytest.mark.parametrize("width", [80, 200])
def test_eight_gpus_fit_without_cutting_values(width):
    feed = SystemFeed(FakeGpuSource(8, name="Fake A100-SXM4-80GB", mem_total_mb=81920.0),
                      host=fixed_host, steady=True)
    view = feed.sample({})
    lines = _text(draw_system(view, width, 24))
    assert len(lines) == 9  # 8 GPUs and the host
    for i, line in enumerate(lines[:8]):
        assert len(line) <= width
        assert line.split()[0] == str(i)
        assert "%" in line and "/80.0G" in line
        if width >= 80:
            assert line.rstrip().endswith("W") or "A100" in line  # power (and name) shown
    assert "ram" in lines[8]


def test_no_driver_is_one_line():
    feed = SystemFeed(FakeGpuSource.library_missing(), host=fixed_host)
    lines = _text(draw_system(feed.sample({}), 80, 10))
    assert lines[0].strip() == "GPU no NVIDIA GPU (NVML library not found)"
    assert len(lines) == 2


def test_columns_keep_the_important_ones_when_narrow(tmp_path):
    from ui_helpers import write_spec

    spec = load_spec(write_spec(tmp_path))
    cols = columns_for(spec)
    narrow = [c.key for c, _ in fit_columns(cols, 80)]
    assert {"id", "state", "step", "latest", "best", "spark"} <= set(narrow)
    assert sum(w for _, w in fit_columns(cols, 80)) + len(narrow) - 1 <= 80
    wide = [c.key for c, _ in fit_columns(cols, 200, has_notes=True)]
    assert {"param:lr", "param:units", "param:opt", "elapsed", "gpu", "note"} <= set(wide)
    assert "note" not in [c.key for c, _ in fit_columns(cols, 200)]


def test_end_process_checks_identity_and_signals_own_process():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        import psutil

        created = psutil.Process(proc.pid).create_time()
        assert "another process" in end_process(proc.pid, created - 5.0)
        assert proc.poll() is None
        assert "SIGTERM" in end_process(proc.pid, created)
        assert proc.wait(timeout=10) == -15
        assert "exited" in end_process(proc.pid, created)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_system_feed_attributes_gpu_processes_at_every_sample():
    from tuitune.system import identify

    trial = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        while identify(trial.pid) is None:
            time.sleep(0.01)
        source = FakeGpuSource(2)
        source.set_processes(0, {trial.pid: 1000.0})
        feed = SystemFeed(source, host=fixed_host)
        roots = {7: identify(trial.pid)}
        for view in [feed.sample(roots) for _ in range(3)]:
            assert view.snapshot.gpu_owners == {trial.pid: 7}
            assert view.snapshot.trials[7].gpu_ids == (0,)
            assert view.snapshot.trials[7].gpu_mem_mb == 1000.0
            assert view.snapshot.trials[7].pids == (trial.pid,)
            assert view.snapshot.orphans == ()
            assert view.snapshot.host == fixed_host()
        source.set_processes(1, {stranger.pid: 500.0})
        view = feed.sample(roots)
        assert [p.pid for _, p in view.snapshot.orphans] == [stranger.pid]
    finally:
        for p in (trial, stranger):
            p.kill()
            p.wait()


def test_the_data_layer_does_not_import_textual():
    code = ("import sys, tuitune.ui, tuitune.ui.model, tuitune.ui.view, tuitune.ui.records, "
            "tuitune.ui.series, tuitune.ui.system_feed, tuitune.ui.fmt; "
            "print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
