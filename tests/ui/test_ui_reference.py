"""A pinned reference (`--reference RUN`: another run's best trial) drawn dotted on the
run screen's chart and the detail screen's."""

from __future__ import annotations

import numpy as np
import pytest
from ui_helpers import build_fixed_run, make_app, settle, wait_for

from tests.support.processes import cli
from tuitune.client.reference import NoReference, best_of
from tuitune.ui import palette
from tuitune.ui.screens.detail import DetailScreen
from tuitune.ui.widgets.chart import Chart, ChartData, Series, draw

SIZE = (120, 40)


def _dots(data: ChartData) -> list[int]:
    """Per plot column: how many braille cells of the plot are not blank."""
    lines = draw(data, 60, 12)[1:-2]
    text = ["".join(t for t, _ in line)[9:] for line in lines]
    return [sum(row[c] not in " ⠀" for row in text if c < len(row)) for c in range(50)]


def test_dashed_and_dotted_series_leave_gaps_a_solid_one_does_not():
    x = np.arange(0, 100, dtype=float)
    y = np.full_like(x, 1.0)
    solid = _dots(ChartData("m", (Series("a", palette.REFERENCE, x, y),)))
    assert all(solid[c] for c in range(2, 48))
    for stroke in ("dashed", "dotted"):
        cells = _dots(ChartData("m", (Series("a", palette.REFERENCE, x, y, stroke=stroke),)))
        gaps = [c for c in range(2, 48) if not cells[c]]
        assert 15 <= len(gaps) <= 31 and any(cells[c] for c in range(2, 48)), stroke


async def test_the_reference_shows_on_the_run_and_detail_charts(tmp_path):
    here = build_fixed_run(tmp_path / "here")
    other = build_fixed_run(tmp_path / "other", n_trials=6)
    reference = best_of(other)
    assert reference.curves  # its best trial's curves, every metric
    app = make_app(here, reference=reference)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        chart = app.screen.query_one(Chart)
        labels = await wait_for(pilot, lambda: [s.label for s in chart.data.series
                                                if s.stroke == "dotted"], what="the reference")
        assert labels == [reference.label]
        assert any(s.stroke == "solid" for s in chart.data.series)
        await pilot.press("enter")
        detail = await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen)
                                and app.screen, what="the detail screen")
        shown = await wait_for(pilot, lambda: [s.label for c in detail.query(Chart)
                                               for s in c.data.series if s.stroke == "dotted"],
                               what="the reference on the detail screen")
        assert reference.label in shown


def test_reference_of_a_named_trial_and_bad_ones(tmp_path):
    other = build_fixed_run(tmp_path / "other", n_trials=6)
    assert best_of(other, 2).trial_id == 2
    with pytest.raises(NoReference, match="has no trial 99"):
        best_of(other, 99)


def test_a_bad_reference_is_refused_before_the_tui_opens(tmp_path):
    here = build_fixed_run(tmp_path / "here")
    other = build_fixed_run(tmp_path / "other", n_trials=6)
    for ref, said in ((f"{other}:99", "has no trial 99"), ("no-such-run", "no-such-run")):
        bad = cli("attach", str(here), "--reference", ref)
        assert bad.returncode == 2 and said in bad.stderr and bad.stderr.count("\n") == 1, (
            bad.stderr)
