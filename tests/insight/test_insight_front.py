"""With several objectives the insight screen draws the trials in the plane of the
first two objectives, the Pareto front marked (issue 17, item 2)."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.widgets import Static
from ui_helpers import make_fixed_app

from tests.engine.test_multi_objective import MULTI, supervised
from tests.insight.test_insight_screen import open_insight
from tuitune.client import front
from tuitune.ui.screens.insight_draw import front_text

pytestmark = pytest.mark.usefixtures("utc")


def test_front_text_places_each_trial_by_its_two_objectives():
    points = [(0.1, 9.0, "front"), (0.5, 1.0, "front"), (0.6, 8.0, ""),
              (0.3, 0.5, "infeasible: mem <= 400")]
    text = front_text(points, ("loss (min)", "cost (min)"), 40, 10).plain
    lines = text.split("\n")
    assert lines[0].startswith("Pareto front: 2 of 4 trials")
    grid = [line.split("│", 1)[1] for line in lines[1:8]]
    assert grid[0][0] == "◆"  # smallest loss, largest cost: top left
    assert grid[-1].index("×") < grid[-1].index("◆")  # lowest costs, by loss
    assert sum(row.count("◆") for row in grid) == 2 and sum(row.count("·") for row in grid) == 1
    assert "x: loss (min)  y: cost (min)" in text
    assert "no finished trial" in front_text([], ("a", "b"), 40, 10).plain


async def test_the_insight_screen_shows_the_front(tmp_path):
    run = supervised(tmp_path, MULTI, strategy="random", concurrent=2, budget="max_trials = 8")
    try:
        run.until(lambda: run.sup.finished, "the run to finish")
        outcomes = front.outcomes(run.store, run.sup.spec)
    finally:
        run.finish()
    n_front = sum(o.on_front for o in outcomes)
    app = make_fixed_app(run.run_dir, gpus=0)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_insight(pilot, app)
        shown = screen.query_one("#parallel", Static).render()
        plain = shown.plain if isinstance(shown, Text) else str(shown)
        assert f"Pareto front: {n_front} of {len(outcomes)} trials" in plain
        assert plain.count("◆") - 1 == n_front  # the legend has one too
