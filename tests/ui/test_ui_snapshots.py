"""Snapshots of the screens with deterministic data: a run written straight into a
store, a fixed clock, a fake GPU source and a fixed host reading.

Accept intended changes with `pytest tests/ui --snapshot-update` after looking at
the HTML report of the differences.
"""

from __future__ import annotations

import os
import threading

import pytest
from ui_helpers import FixedClock, fixed_host, make_fixed_app, screen_text, settle, wait_for

from tuitune.system import FakeGpuSource
from tuitune.ui.factory import build_app

pytestmark = pytest.mark.usefixtures("utc")


def _ready(app):
    async def run_before(pilot):
        await settle(pilot, app)
    return run_before


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_run_screen(snap_compare, fixed_run, size):
    app = make_fixed_app(fixed_run, gpus=4)
    assert snap_compare(app, terminal_size=size, run_before=_ready(app))


def test_run_screen_8_gpus_200x50(snap_compare, fixed_run):
    app = make_fixed_app(fixed_run, gpus=8)
    assert snap_compare(app, terminal_size=(200, 50), run_before=_ready(app))


def test_system_pane_8_gpus_80x24(snap_compare, fixed_run):
    app = make_fixed_app(fixed_run, gpus=8)
    assert snap_compare(app, terminal_size=(80, 24), press=["v"], run_before=_ready(app))


def test_run_screen_sorted_by_best_and_filtered(snap_compare, fixed_run):
    app = make_fixed_app(fixed_run, gpus=4)
    assert snap_compare(app, terminal_size=(120, 36), press=["o", "f"],
                        run_before=_ready(app))


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_detail_screen(snap_compare, fixed_run, size):
    app = make_fixed_app(fixed_run, gpus=4)

    async def run_before(pilot):
        await settle(pilot, app)
        await pilot.press("enter")  # trial 1: tweaked at step 20
        await wait_for(pilot, lambda: (1, "loss") in app.view.curves
                       and (1, "val_loss") in app.view.curves, what="curves")
        await pilot.pause(0.3)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_detail_screen_one_axis_with_cursor_80x24(snap_compare, fixed_run):
    """Issue 14 acceptance: train and val on one axis, the cursor at step 30 and every
    curve's value there read out under the chart."""
    app = make_fixed_app(fixed_run, gpus=4)

    async def run_before(pilot):
        await settle(pilot, app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: (1, "loss") in app.view.curves
                       and (1, "val_loss") in app.view.curves, what="curves")
        await pilot.press("right", *["left"] * 10)
        await pilot.pause(0.3)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_detail_history_and_lineage(snap_compare, fixed_run):
    app = make_fixed_app(fixed_run, gpus=4)

    async def run_before(pilot):
        await settle(pilot, app)
        app.screen.table.select(13)  # the clone of trial 2
        await pilot.press("enter", "4")
        await pilot.pause(0.3)
    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_new_trial_form(snap_compare, fixed_run):
    app = make_fixed_app(fixed_run, gpus=4)
    assert snap_compare(app, terminal_size=(80, 24), press=["n"], run_before=_ready(app))


def test_help_screen(snap_compare, fixed_run):
    from tuitune.ui.screens.help import HelpScreen

    app = make_fixed_app(fixed_run, gpus=4)

    async def run_before(pilot):
        await settle(pilot, app)
        await pilot.press("question_mark")
        # The modal is composed and laid out over a settled screen before the shot.
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        await pilot.pause(0.3)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_no_nvidia_driver(snap_compare, fixed_run):
    app = build_app(fixed_run, clock=FixedClock(), gpu_source=FakeGpuSource.library_missing(),
                    host=fixed_host, steady=True, poll_interval=60.0, system_interval=60.0)
    assert snap_compare(app, terminal_size=(80, 24), press=["v"], run_before=_ready(app))


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
def test_gpu_monitor_8_gpus(snap_compare, size):
    from tuitune.ui.factory import build_monitor

    source = FakeGpuSource(8, name="Fake H100 80GB HBM3", mem_total_mb=81920.0)
    for i in range(8):
        source.set_util(i, 12.5 * i)
        source.set_base_memory(i, 10000.0 * i)
    app = build_monitor(clock=FixedClock(), gpu_source=source, host=fixed_host, steady=True,
                        system_interval=60.0)

    async def run_before(pilot):
        await wait_for(pilot, lambda: app.view.system is not None, what="a sample")
        await pilot.pause(0.2)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


class _HeldGpus(FakeGpuSource):
    """A GPU source whose readings wait until the test lets them go."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.go = threading.Event()

    def read(self):
        self.go.wait(30)
        return super().read()


async def test_a_first_sample_after_the_opening_is_drawn_at_once(fixed_run):
    """What made first paints differ: a system sample that came after the store's
    opening polls waited for the next poll (a minute away here) to be drawn."""
    source = _HeldGpus(4, name="Fake A100 80GB", mem_total_mb=81920.0)
    source.set_util(0, 95.0)
    app = build_app(fixed_run, clock=FixedClock(), gpu_source=source, host=fixed_host,
                    steady=True, poll_interval=60.0, system_interval=60.0)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.view.loaded, what="the opening")
        assert "util  95%" not in screen_text(app)
        source.go.set()
        await wait_for(pilot, lambda: app.view.system is not None, what="the sample")
        await pilot.pause()
        assert "util  95%" in screen_text(app)


def test_snapshots_do_not_depend_on_the_local_zone():
    assert os.environ["TZ"] == "UTC"


def test_run_screen_4_params_and_a_note_80x24(snap_compare, tmp_path):
    """Issue 14: every searched parameter on screen at 80x24, beside a note."""
    from ui_helpers import build_fixed_run

    app = make_fixed_app(build_fixed_run(tmp_path, weight_decay=True), gpus=4)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_ready(app))


def test_run_screen_text_filter_80x24(snap_compare, fixed_run):
    """Issue 14: the active filter, the sort and the count on a line above the table."""
    app = make_fixed_app(fixed_run, gpus=4)

    async def run_before(pilot):
        await settle(pilot, app)
        await pilot.press("slash", *"clone", "enter")
        await wait_for(pilot, lambda: len(app.screen.table.order) == 1, what="the filter")
        await settle(pilot, app)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
