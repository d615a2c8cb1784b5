"""`tuitune status` and `tuitune ls` with several objectives and a constraint (issue 17,
items 2 and 3): every objective is shown, and the trials on the Pareto front and the
infeasible ones are marked as `best` and `export` list them; in 80 columns, and
exactly in `--json`.

The store is real: a supervisor over fake trials (tests/engine/test_multi_objective.py)
runs 9 trials to the end; the expected front is computed here from the store."""

from __future__ import annotations

import json

import pytest

from tests.engine.test_multi_objective import MULTI, supervised
from tests.support.store_reads import read
from tuitune.core import numfmt
from tuitune.core.pareto import pareto_mask

from .bad_input import run_cli


@pytest.fixture
def finished(tmp_path):
    run = supervised(tmp_path, MULTI, strategy="random", concurrent=2,
                     budget="max_trials = 9")
    try:
        run.until(lambda: run.sup.finished, "the run to finish")
    finally:
        run.finish()
    return run.run_dir


# 80: what `tuitune` sees when not on a terminal.
def _cli(run_dir, *args: str, env_columns: int = 80) -> str:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", str(env_columns))
        code, out, err = run_cli(["--root", str(run_dir.parent), *args])
    assert code == 0 and err == "", err
    return out


def _expected(run_dir):
    """Per trial (best loss, last cost, feasible), the front and the infeasible ids."""
    def rows(store):
        out = {}
        for t in store.trials():
            loss = min(v for tid, _, v in store.metric_rows("loss") if tid == t.id)
            cost = [v for tid, _, v in store.metric_rows("cost") if tid == t.id][-1]
            mem = [v for tid, _, v in store.metric_rows("mem") if tid == t.id][-1]
            out[t.id] = (loss, cost, mem <= 400)
        return out

    values = read(run_dir, rows)
    feasible = [tid for tid, v in values.items() if v[2]]
    mask = pareto_mask([values[tid][:2] for tid in feasible])
    front = {tid for tid, on in zip(feasible, mask) if on}
    infeasible = {tid for tid, v in values.items() if not v[2]}
    assert front and infeasible, values  # the run must exercise both marks
    return values, front, infeasible


def test_status_shows_every_objective_and_marks_the_front_as_best_does(finished):
    values, front, infeasible = _expected(finished)
    shown = _cli(finished, "status", finished.name)
    lines = shown.splitlines()
    assert max(map(len, lines)) <= 80, shown
    assert "objectives: loss (min), cost (min); constraints: mem <= 400" in lines
    assert f"front: {', '.join(map(str, sorted(front)))}; " \
           f"infeasible: {', '.join(map(str, sorted(infeasible)))}" in lines
    header = next(line for line in lines if line.startswith("id"))
    assert header.split() == ["id", "state", "origin", "step", "latest", "best", "cost",
                              "front", "elapsed"]
    rows = {int(line.split()[0]): line.split() for line in lines[lines.index(header) + 1:]
            if not line.startswith("    ")}
    assert set(rows) == set(values)
    for tid, (loss, cost, _) in values.items():
        cells = rows[tid]
        assert cells[5] == numfmt.column_number(loss) and cells[6] == numfmt.column_number(cost)
        assert cells[7] == ("front" if tid in front else
                            "infeasible" if tid in infeasible else "-"), (tid, cells)

    # `best` lists the same front.
    best = json.loads(_cli(finished, "best", finished.name, "--json"))
    assert {t["id"] for t in best["front"]} == front


def test_status_json_has_every_objective_exactly(finished):
    values, front, infeasible = _expected(finished)
    status = json.loads(_cli(finished, "status", finished.name, "--json"))
    assert status["objective"] == {"metric": "loss", "mode": "min"}
    assert status["objectives"] == [{"metric": "loss", "mode": "min"},
                                    {"metric": "cost", "mode": "min"}]
    assert status["constraints"] == ["mem <= 400"]
    assert set(status["front"]) == front and set(status["infeasible"]) == infeasible
    for t in status["trials"]:
        loss, cost, ok = values[t["id"]]
        assert t["values"] == {"loss": loss, "cost": cost}  # exact, not rounded
        assert t["pareto_front"] == (t["id"] in front) and t["feasible"] == ok


def test_ls_shows_every_objective_the_front_and_the_infeasible(finished):
    values, front, infeasible = _expected(finished)
    ok = [v for v in values.values() if v[2]]
    best_loss, best_cost = min(v[0] for v in ok), min(v[1] for v in ok)
    listing = _cli(finished, "ls").splitlines()
    assert max(map(len, listing)) <= 80, listing
    # The row is too wide for 80 columns with this run's name: the rest of the front
    # goes on the line under it, indented (as `status` wraps parameters).
    assert listing[0].split() == ["run", "started", "state", "trials", "best"]
    at = next(i for i, line in enumerate(listing) if line.startswith(finished.name))
    # The best loss among feasible trials (as `best` picks), then the rest of the front.
    assert listing[at].split()[4:] == ["9/9", numfmt.column_number(best_loss), "(loss)"]
    assert listing[at + 1] == f"    {numfmt.nice_number(best_cost)} (cost), " \
                              f"front {len(front)}, {len(infeasible)} infeasible"
    wide = _cli(finished, "ls", env_columns=200).splitlines()
    assert wide[0].split() == ["run", "started", "state", "trials", "best", "front"]
    assert next(line for line in wide if line.startswith(finished.name)).endswith(
        listing[at + 1].strip())

    runs = json.loads(_cli(finished, "ls", "--json"))
    (run,) = [r for r in runs if r["name"] == finished.name]
    assert run["best"] == best_loss
    assert run["objectives"] == [{"metric": "loss", "mode": "min", "best": best_loss},
                                 {"metric": "cost", "mode": "min", "best": best_cost}]
    assert set(run["front"]) == front and set(run["infeasible"]) == infeasible
