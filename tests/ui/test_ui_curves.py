"""Curves as TensorBoard users read them (issue 14, items 8 and 9): a train/val pair on
one axis with a legend, a cursor that reads out every curve's exact value at a step,
and a zoom to the last steps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ui_helpers import FIXED_NOW, make_fixed_app, screen_text, settle, wait_for

from tuitune.store import RunStore
from tuitune.ui import glyphs, palette
from tuitune.ui.screens.charting import move_cursor, zoom_start
from tuitune.ui.widgets.chart import Chart, ChartData, Series, cursor_steps, draw, value_at

pytestmark = pytest.mark.usefixtures("utc")


def _text(lines) -> list[str]:
    return ["".join(t for t, _ in line) for line in lines]


def _series(label: str, steps, values) -> Series:
    return Series(label, palette.SERIES[0], np.asarray(steps, float), np.asarray(values, float))


def test_train_and_val_on_one_axis_read_apart_without_colour():
    """In ASCII drawing every braille cell becomes ' - . or |, and a monochrome terminal
    drops the colours: the validation curve is told from its training twin by its
    stroke, in the plot and in the legend."""
    x = np.arange(0, 100, dtype=float)
    train = Series("loss", palette.SERIES[0], x, np.full_like(x, 1.0))
    val = Series("val_loss", palette.SERIES[1], x, np.full_like(x, 2.0), stroke="dashed")
    lines = [glyphs.to_ascii(t) for t in _text(draw(ChartData("#1", (train, val)), 60, 12))]
    assert "- loss" in lines[0] and "- - val_loss" in lines[0]
    plot = [line[9:].rstrip() for line in lines[1:-2]]
    val_row, train_row = plot[0], plot[-1]  # flat lines: val at the top, train at the bottom
    assert " " not in train_row.strip() and len(train_row.strip()) >= 45
    assert "  " in val_row.strip() and val_row.strip().count(" ") >= 15


def test_value_at_is_the_last_point_at_or_before_the_step():
    s = _series("val_loss", [2, 4, 6], [0.5, 0.4, 0.3])
    assert value_at(s, 4) == (4.0, 0.4)
    assert value_at(s, 5) == (4.0, 0.4)  # between two points: the one before
    assert value_at(s, 1) is None


def test_the_readout_gives_every_curve_its_value_at_the_cursor():
    train = _series("loss", range(1, 11), [1.0 / s for s in range(1, 11)])
    val = _series("val_loss", [2, 4, 6, 8, 10], [0.9, 0.7, 0.6, 0.55, 0.5])
    lines = _text(draw(ChartData("#1", (train, val), cursor=5.0), 60, 14))
    assert "━ loss" in lines[0] and "━ val_loss" in lines[0]  # one axis, a legend
    assert lines[-1].split() == ["step", "5", "loss", "0.2", "val_loss", "0.7", "@4"]


def test_the_cursor_column_is_drawn_reversed():
    s = _series("loss", range(0, 101), [float(v) for v in range(0, 101)])
    lines = draw(ChartData("x", (s,), cursor=50.0), 50, 12)
    reversed_cells = [(i, t) for line in lines[1:-3] for i, (t, st) in enumerate(line)
                      if st is not None and st.reverse]
    assert len(reversed_cells) == len(lines) - 4  # one cell on every plot row
    assert all(len(t) == 1 for _, t in reversed_cells)


def test_zoom_draws_only_the_last_steps_and_fits_the_y_axis_to_them():
    s = _series("loss", range(1, 1001), [100.0 if x < 900 else 1.0 + x / 1000
                                          for x in range(1, 1001)])
    whole = _text(draw(ChartData("loss", (s,)), 60, 12))
    zoomed = _text(draw(ChartData("loss", (s,), x_min=900.0), 60, 12))
    assert whole[1].strip().startswith("100")
    assert zoomed[1].strip().startswith("2")  # the y axis spans 1.9..2, not 100
    assert zoomed[-1].split() == ["900", "last", "100", "steps", "1000"]


def test_cursor_steps_moves_and_zoom_spans():
    data = ChartData("x", (_series("a", [1, 3, 5], [0, 0, 0]),
                           _series("b", [2, 3, 8], [0, 0, 0])))
    steps = cursor_steps(data)
    assert steps.tolist() == [1, 2, 3, 5, 8]
    assert move_cursor(steps, None, 1) == 8  # the first press: the newest step
    assert move_cursor(steps, 8, -1) == 5
    assert move_cursor(steps, 4, 1) == 5 and move_cursor(steps, 4, -1) == 3
    assert move_cursor(steps, 1, -10) == 1 and move_cursor(steps, 5, 10) == 8
    assert zoom_start(600, 0.5) == 400 and zoom_start(600, 0.1) == 550
    assert zoom_start(600, None) is None and zoom_start(None, 0.5) is None


async def test_detail_screen_one_axis_cursor_zoom_and_side_by_side(fixed_run):
    app = make_fixed_app(fixed_run, gpus=4)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter")  # trial 1
        await wait_for(pilot, lambda: (1, "loss") in app.view.curves
                       and (1, "val_loss") in app.view.curves, what="curves")
        await pilot.pause(0.2)
        chart = app.screen.query_one("#pair-chart", Chart)
        assert chart.display and not app.screen.query_one("#pair").display
        legend = chart.lines_text()[0]
        assert "━ loss" in legend and "━ ━ val_loss" in legend  # validation dashed
        assert [s.stroke for s in chart.data.series] == ["solid", "dashed"]
        await pilot.press("right", "left", "left")  # newest step (40), then two back
        await pilot.pause(0.1)
        loss, val = app.view.curves[(1, "loss")], app.view.curves[(1, "val_loss")]
        at = int(np.flatnonzero(loss.steps == 38)[0])
        readout = chart.lines_text()[-1].split()
        assert readout[:2] == ["step", "38"]
        assert float(readout[3]) == pytest.approx(loss.values[at], rel=1e-3)
        assert float(readout[5]) == pytest.approx(val.values[at], rel=1e-3)
        await pilot.press("z")  # the last half of the steps: from 20
        await pilot.pause(0.1)
        assert "last 20 steps" in screen_text(app)
        # a click on the plot moves the cursor to the step under the pointer
        await pilot.click("#pair-chart", offset=(9, 5))
        await pilot.pause(0.1)
        assert chart.lines_text()[-1].split()[:2] == ["step", "20"]
        await pilot.press("v")  # side by side, each on its own axis
        await pilot.pause(0.2)
        assert not chart.display and app.screen.query_one("#pair").display
        assert app.screen.query_one("#val-chart", Chart).lines_text()[-1].split()[:2] == [
            "step", "20"]
        await pilot.press("2", "right")  # on another tab the arrows leave the cursor be
        await pilot.pause(0.1)
        assert app.screen.cursor == 20


async def test_the_readout_follows_new_points_at_the_cursor_step(fixed_run):
    """The cursor stays on its step as the trial reports; a point arriving at it shows."""
    app = make_fixed_app(fixed_run, gpus=4)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        app.screen.table.select(2)  # running, 35 points
        await pilot.press("enter")
        await wait_for(pilot, lambda: (2, "val_loss") in app.view.curves, what="curves")
        await pilot.press("right")
        await pilot.pause(0.1)
        chart = app.screen.query_one("#pair-chart", Chart)
        assert chart.lines_text()[-1].split()[:2] == ["step", "35"]
        store = RunStore(fixed_run)
        store.add_metrics(2, [(36, "val_loss", 0.125, FIXED_NOW), (36, "loss", 0.0625, FIXED_NOW)])
        store.close()
        app.store_loop.wake()  # the next poll now (the fixed app polls once a minute)
        await wait_for(pilot, lambda: len(app.view.curves[(2, "loss")]) == 36, what="step 36")
        await pilot.press("right")
        await pilot.pause(0.1)
        assert chart.lines_text()[-1].split() == ["step", "36", "loss", "0.0625",
                                                  "val_loss", "0.125"]
        assert not math.isnan(app.screen.cursor)


def test_the_second_pane_defaults_to_another_validation_metric_or_the_training_twin():
    from tuitune.ui.screens.run_screen import secondary_metric

    assert secondary_metric("val_loss", ["loss", "val_loss", "val_accuracy"]) == "val_accuracy"
    assert secondary_metric("val_loss", ["val_loss", "lr", "loss"]) == "loss"
    assert secondary_metric("loss", ["loss", "lr"]) is None


async def test_run_screen_stacks_a_second_metric_when_there_is_room(fixed_run):
    """Issue 14.10: the objective and one secondary metric as two stacked panes."""
    app = make_fixed_app(fixed_run, gpus=4)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, app)
        first, second = (app.screen.query_one(i, Chart) for i in ("#chart", "#chart2"))
        assert second.display and second.region.y > first.region.y  # under it
        assert first.lines_text()[0].split()[0] == "val_loss"
        assert second.lines_text()[0].split()[0] == "loss"
        assert (1, "loss") in app.view.curves and len(second.lines_text()) > 8
        await pilot.resize_terminal(80, 24)  # no room: one pane, its curves only
        await pilot.pause(0.3)
        app.screen._update_chart()
        assert not second.display
        assert app.screen.wanted_curves() == {(t, "val_loss") for t in (1, 3, 4)}
        await pilot.resize_terminal(160, 48)
        await pilot.pause(0.3)
        await pilot.press("M")  # pick "(none)": one pane again
        await pilot.pause(0.2)
        await pilot.press("home", "enter")
        await wait_for(pilot, lambda: not second.display, what="the second pane hidden")


async def test_the_second_pane_choice_survives_a_reattach(fixed_run):
    """`M` → (none) is kept with the rest of the view (view_memory.py)."""
    app = make_fixed_app(fixed_run, gpus=4)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, app)
        await pilot.press("M")
        await pilot.pause(0.2)
        await pilot.press("home", "enter")
        await wait_for(pilot, lambda: not app.screen.query_one("#chart2").display,
                       what="the second pane hidden")
        await pilot.press("q")
    app = make_fixed_app(fixed_run, gpus=4)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, app)
        assert app.screen.metric2 == "" and not app.screen.query_one("#chart2").display


def test_the_y_axis_labels_are_a_column_of_4_digit_numbers_points_lined_up():
    """Issue 14.2 for the axes: `1.054` stood over `0.71`, right-aligned, each label
    a cell off the one above it; and -0.001 read `-0.001` while 0.00123 read `0.00123`."""
    s = _series("val_loss", range(0, 11), np.linspace(0.71, 1.35, 11))
    labels = [line[:8] for line in _text(draw(ChartData("#1", (s,)), 60, 12))[1:-2]]
    shown = [label for label in labels if label.strip()]
    assert [label.strip() for label in shown] == ["1.350", "1.030", "0.7100"], labels
    assert len({label.index(".") for label in shown}) == 1, shown
    negative = _series("loss", range(0, 11), np.linspace(-0.001, -0.0001234, 11))
    labels = [line[:9] for line in _text(draw(ChartData("#1", (negative,)), 60, 12))[1:-2]]
    assert all(label.endswith(("│", " ")) for label in labels), labels  # within 8 cells


async def test_the_run_screen_chart_reads_out_every_trial_at_the_cursor(fixed_run):
    """Issue 14.9 on the run screen too: its chart overlays the selected trial and the
    starred ones, and nothing read their values at a step (the cursor was on the
    detail and compare screens only). ← → move it (the table keeps ↑ ↓), a click puts
    it under the pointer, and both panes of a big terminal read out there."""
    app = make_fixed_app(fixed_run, gpus=4)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, app)
        first, second = (app.screen.query_one(i, Chart) for i in ("#chart", "#chart2"))
        assert "step" not in first.lines_text()[-1]
        await pilot.press("right", "left", "left")  # the newest step, then two back
        await pilot.pause(0.2)
        assert app.screen.table.cursor_id == 1  # the table's selection did not move
        readout = first.lines_text()[-1].split()
        assert readout[:2] == ["step", "38"] and readout[2] == "#1", readout
        assert {"#3*", "#4*"} <= set(readout)  # every charted trial
        assert second.lines_text()[-1].split()[:2] == ["step", "38"]
        await pilot.click("#chart", offset=(9, 5))  # the plot's first column
        await pilot.pause(0.2)
        assert first.lines_text()[-1].split()[:2] == ["step", "1"]
