"""Screens see the app through small protocols (issue 11, item 4): the run app is a
`RunContext`, the GPU monitor a `SystemContext` only; screens never import the app
(tests/test_import_contracts.py checks the arrows)."""

from __future__ import annotations

from dataclasses import replace

from ui_helpers import FixedClock, fixed_host, make_fixed_app, screen_text, settle, wait_for

from tuitune.system import FakeGpuSource
from tuitune.ui.context import Frame, RunContext, SystemContext
from tuitune.ui.factory import build_monitor


async def test_the_apps_satisfy_the_screens_protocols(fixed_run):
    app = make_fixed_app(fixed_run)
    monitor = build_monitor(clock=FixedClock(), gpu_source=FakeGpuSource(1), host=fixed_host,
                            steady=True, system_interval=60.0)
    assert isinstance(app, RunContext) and isinstance(app, SystemContext)
    assert isinstance(monitor, SystemContext) and not isinstance(monitor, RunContext)


async def test_a_frame_reaches_the_screen_under_the_top_one(fixed_run):
    """Hidden screens are kept current: they watch the app's frame too."""
    app = make_fixed_app(fixed_run)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        run_screen = app.screen
        await pilot.press("enter")  # trial 1's detail screen on top
        await wait_for(pilot, lambda: app.screen is not run_screen, what="the detail")
        rows = dict(app.view.rows)
        rows[5] = replace(rows[5], note="written while hidden")
        app.view.rows = rows
        app.frame = Frame(polled=True, rows=frozenset({5}))
        assert run_screen.table._rows[5].note == "written while hidden"
        await pilot.press("b")
        await wait_for(pilot, lambda: "written" in screen_text(app),
                       what="the note on the run screen")
