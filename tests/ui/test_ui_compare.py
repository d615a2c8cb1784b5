"""Compare marked trials (issue 15, item 5): space marks 2-4 trials on the run screen,
C opens them side by side: parameters with the differences highlighted, the curves on
one axis with a cursor, the steps where each was tweaked or cloned."""

from __future__ import annotations

import pytest
from ui_helpers import make_fixed_app, screen_text, settle, wait_for

from tuitune.ui.screens.insight_compare import DIFFERS, CompareScreen
from tuitune.ui.widgets.chart import Chart

pytestmark = pytest.mark.usefixtures("utc")


def _row(table, label: str) -> list:
    """A row of a rich Table: its cells (Text) by the row's label."""
    labels = [str(c) for c in table.columns[0]._cells]
    i = labels.index(label)
    return [col._cells[i] for col in table.columns[1:]]


async def test_mark_trials_with_space_and_compare_them(fixed_run):
    app = make_fixed_app(fixed_run, gpus=4)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        home = app.screen
        await pilot.press("C")  # nothing marked: says how
        await pilot.pause(0.1)
        assert any("mark 2 to 4 trials with space" in n.message for n in app._notifications)
        assert app.screen is home
        home.table.select(1)
        await pilot.press("space")
        home.table.select(13)  # the clone of trial 2, from its step 25
        await pilot.press("space")
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "marked #1 #13 · C compares" in text
        marked_lines = [ln for ln in text.splitlines() if ln.startswith(">")]
        assert [ln.split()[0] for ln in marked_lines] == [">", ">"] and len(marked_lines) == 2
        for tid in (2, 3):  # up to four: a fifth is refused
            home.table.select(tid)
            await pilot.press("space")
        home.table.select(4)
        await pilot.press("space")
        await pilot.pause(0.1)
        assert home.marked == [1, 13, 2, 3]
        home.table.select(2)  # unmark two again
        await pilot.press("space")
        home.table.select(3)
        await pilot.press("space")
        await pilot.press("C")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                                and app.screen, what="the comparison")
        assert screen.trial_ids == [1, 13]
        table = screen.params_table()
        lr, units, opt = _row(table, "lr"), _row(table, "units"), _row(table, "opt")
        assert [str(c) for c in lr] == ["0.0005", "0.002"] and lr[0].style == DIFFERS
        assert [str(c) for c in opt] == ["sgd", "adam"] and opt[0].style == DIFFERS
        assert [str(c) for c in units] == ["8", "16"]
        assert [str(c) for c in _row(table, "tweaks")] == ["lr=0.0005@20", "-"]
        assert [str(c) for c in _row(table, "cloned")] == ["-", "from #2 at step 25"]
        # the curves on one axis, the tweak (t) and the clone (c) under it
        await wait_for(pilot, lambda: (13, "val_loss") in app.view.curves, what="curves")
        await pilot.pause(0.2)
        chart = screen.query_one(Chart)
        lines = chart.lines_text()
        assert "━ #1" in lines[0] and "━ #13" in lines[0]
        axis = next(ln for ln in lines if "└" in ln)
        assert "t" in axis and "c" in axis
        await pilot.press("right", "left")  # step 39: trial 13's last point is at 35
        await pilot.pause(0.1)
        readout = chart.lines_text()[-1].split()
        assert readout[:2] == ["step", "39"] and readout[4:] == ["#13", readout[5], "@35"]
        await pilot.press("b")
        await wait_for(pilot, lambda: app.screen is home, what="back")
        assert home.marked == [1, 13]  # kept for another look
