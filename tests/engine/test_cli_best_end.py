"""`tuitune best --by end` (issue 18, item 4): one reported value is one epoch's noise,
and the best value of a trial is the luckiest of them. Ranked by the mean of its last
three values, a trial with one lucky dip no longer heads the leaderboard.

The store is real (a run folder made as `tuitune run` makes it; the points written as a
trial's reports are); the CLI runs in this process."""

from __future__ import annotations

import json
import math

import pytest

from tests.support.specs import write_spec
from tuitune.client.summary import end_values
from tuitune.core.history import Objective
from tuitune.core.spec import load_spec
from tuitune.engine.runs import create_run
from tuitune.store import RunStore

from .bad_input import run_cli

#: trial -> its loss curve. Trial 1 dips once to 0.20 and ends at 0.50; trial 2 ends low
#: and steady; trial 3 reported two points; trial 4 diverged at its last report.
CURVES = {
    1: [0.9, 0.6, 0.20, 0.5, 0.5, 0.5],
    2: [0.9, 0.5, 0.31, 0.30, 0.30, 0.29],
    3: [0.8, 0.4],
    4: [0.9, 0.25, 0.26, math.nan],
}


@pytest.fixture
def run_dir(tmp_path):
    folder = create_run(load_spec(write_spec(tmp_path / "spec", name="ends")),
                        tmp_path / "runs")
    store = RunStore(folder)
    try:
        for tid, curve in CURVES.items():
            assert store.create_trial({"lr": 0.1 * tid, "units": tid}, "manual", "test") == tid
            store.add_metrics(tid, [(step, "loss", v, 1000.0 + step)
                                    for step, v in enumerate(curve, start=1)])
    finally:
        store.close()
    return folder


def _best(run_dir, *args: str) -> tuple[int, str, str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", "80")
        return run_cli(["--root", str(run_dir.parent), "best", run_dir.name, *args])


def test_end_is_the_mean_of_the_last_three_values(run_dir):
    store = RunStore(run_dir)
    try:
        ends = end_values(store, Objective("loss", "min"))
    finally:
        store.close()
    assert ends[1] == pytest.approx(0.5)
    assert ends[2] == pytest.approx((0.30 + 0.30 + 0.29) / 3)
    assert ends[3] == pytest.approx(0.6)  # only two reports: their mean
    assert math.isnan(ends[4])  # a non-finite last report is no good end


def test_best_by_end_ranks_the_steady_trial_above_the_lucky_dip(run_dir):
    code, out, err = _best(run_dir, "--json")
    assert code == 0 and err == "", err
    by_best = json.loads(out)
    assert by_best["ranked_by"] == "best" and by_best["end_points"] == 3
    assert [t["id"] for t in by_best["trials"]] == [1, 4, 2, 3]  # 0.20 < 0.25 < 0.29 < 0.4

    code, out, err = _best(run_dir, "--by", "end", "--json")
    assert code == 0 and err == "", err
    by_end = json.loads(out)
    assert by_end["ranked_by"] == "end"
    # 0.2967 < 0.5 < 0.6, and the diverged trial last
    assert [t["id"] for t in by_end["trials"]] == [2, 1, 3, 4]
    assert by_end["trials"][0]["end"] == pytest.approx((0.30 + 0.30 + 0.29) / 3)
    assert by_end["trials"][0]["best"] == 0.29
    assert by_end["trials"][3]["end"] == "nan"

    code, text, err = _best(run_dir, "--by", "end")
    assert code == 0 and err == "", err
    lines = text.splitlines()
    assert lines[0].endswith("best loss (min)  end (last 3)")
    rows = [line.split() for line in lines[1:] if not line.startswith("    ")]
    assert [r[1] for r in rows] == ["2", "1", "3", "4"]
    assert rows[0][4:6] == ["0.2900", "0.2967"]  # best and end, 4 significant digits
    assert rows[3][5] == "-"  # the diverged trial: no end value
    assert max(map(len, lines)) <= 80


def test_a_bad_ranking_is_one_line_and_changes_nothing(run_dir):
    code, out, err = _best(run_dir, "--by", "latest")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "invalid choice: 'latest'" in err


def test_by_end_on_a_run_with_several_objectives_is_one_line(tmp_path):
    from tests.engine.test_multi_objective import MULTI, spec_file

    folder = create_run(load_spec(spec_file(tmp_path, MULTI)), tmp_path / "runs")
    code, out, err = _best(folder, "--by", "end")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "several objectives" in err, err
    code, out, err = _best(folder)  # the Pareto front, as before
    assert code == 0 and err == "", err
