"""A tweaked trial ran a schedule: everywhere its parameters are shown (`best`,
`status`, the TUI's table and detail screen, the answers to commands) they read as
what it started with and each change with its step (`lr 1.166 → 0.02 @45`), never
as the last value alone (issue 13.8). One function computes them: core/history.py."""

from __future__ import annotations

import os
import subprocess
import sys

from ui_helpers import make_fixed_app, screen_text, settle, wait_for

from tuitune.core.history import ParamChange, current_params, describe_params
from tuitune.ui.screens.detail import DetailScreen


def test_describe_params_shows_the_start_and_each_change_with_its_step():
    changes = [ParamChange("lr", 0.02, 45), ParamChange("lr", 0.5, None),  # not applied
               ParamChange("lr", 0.1, 30)]
    start = {"lr": 1.166, "units": 8}
    assert describe_params(start, changes) == "lr 1.166 → 0.1 @30 → 0.02 @45 units=8"
    assert current_params(start, changes) == {"lr": 0.02, "units": 8}
    assert describe_params(start) == "lr=1.166 units=8"


def _cli(run_dir, *args: str) -> str:
    env = {**os.environ, "TUITUNE_HOME": str(run_dir.parent.parent), "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "tuitune", *args, run_dir.name],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_best_and_status_show_the_schedule_a_tweaked_trial_ran(fixed_run):
    """build_fixed_run: trial 1 started at lr=0.001 and ran from step 20 at 0.0005."""
    best = _cli(fixed_run, "best")
    row = next(line for line in best.splitlines() if line.split()[1:2] == ["1"])
    assert "0.001 → 0.0005 @20" in row, best
    status = _cli(fixed_run, "status")
    row = next(line for line in status.splitlines() if line.split()[:1] == ["1"])
    assert "lr 0.001 → 0.0005 @20" in row, status
    untweaked = next(line for line in status.splitlines() if line.split()[:1] == ["2"])
    assert "lr=0.002" in untweaked


async def test_the_tui_shows_the_schedule_in_the_table_and_the_detail(fixed_run):
    app = make_fixed_app(fixed_run)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, app)
        row = next(line for line in screen_text(app).splitlines()
                   if line.split()[:2] == ["1", "running"])
        assert "0.001→0.0005" in row, row
        await pilot.press("enter", "2")  # trial 1, its parameters tab
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen)
                       and "0.001 → 0.0005 @20" in screen_text(app), what="the schedule")
