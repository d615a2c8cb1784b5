"""Several objectives and constraints through the spec, the engine and the plain
views (issue 17, items 2 and 3): bad [objective] tables are refused in one line
(exit 2, no run folder); a real supervisor over fake trials hands every objective
and constraint to the searcher; `best` lists the Pareto front of the feasible
trials and `export` marks it."""

from __future__ import annotations

import json
import math

import pytest

from tests.engine.bad_input import check_spec_file
from tests.support.fake_runs import FakeRun, ManualClock
from tests.support.specs import write_spec
from tuitune.client import summary
from tuitune.core.pareto import pareto_mask
from tuitune.core.spec import SpecError, load_spec
from tuitune.engine.runs import create_run
from tuitune.engine.supervisor import Supervisor
from tuitune.executors.fake import FakeExecutor, FakeTrial, ScriptRun

ONE = '[objective]\nmetric = "loss"\nmode = "min"\n'
MULTI = """[objective]
metrics = ["loss", "cost"]
mode = ["min", "min"]
secondary = ["mem"]
constraints = ["mem <= 400"]
"""


def spec_file(folder, objective: str = MULTI, **kw):
    path = write_spec(folder / "exp", **kw)
    text = path.read_text()
    assert ONE in text
    path.write_text(text.replace(ONE, objective))
    return path


def test_objective_table_loads(tmp_path):
    spec = load_spec(spec_file(tmp_path))
    assert [(o.metric, o.mode) for o in spec.all_objectives] == [("loss", "min"), ("cost", "min")]
    assert spec.objective.metric == "loss"
    assert [str(c) for c in spec.constraints] == ["mem <= 400"]
    assert {"loss", "cost", "mem"} <= set(spec.objective_metrics())
    one = load_spec(spec_file(tmp_path / "b", ONE + 'constraints = ["gpu_mem_mb <= 8000"]\n'))
    assert one.all_objectives == (one.objective,) and str(one.constraints[0]) == \
        "gpu_mem_mb <= 8000"


BAD = [
    (MULTI.replace('"cost"]', '"loss"]'), "objective.metrics[1]", "listed twice"),
    (MULTI.replace('mode = ["min", "min"]', 'mode = ["min"]'), "objective.mode",
     "a list of 2"),
    (MULTI.replace('mode = ["min", "min"]', 'mode = ["min", "up"]'), "objective.mode[1]",
     "expected one of min, max"),
    (MULTI.replace('"mem <= 400"', '"gpu_mem <= 400"'), "objective.constraints[0]",
     "'gpu_mem' names nothing the trials report"),
    (MULTI.replace('"mem <= 400"', '"mem < 400"'), "objective.constraints[0]",
     "expected METRIC <= NUMBER"),
    (MULTI.replace('"mem <= 400"', '"mem <= lots"'), "objective.constraints[0]",
     "is not a number"),
    (MULTI.replace('"mem <= 400"', '"mem <= nan"'), "objective.constraints[0]", "finite"),
    (MULTI.replace('constraints = ["mem <= 400"]', 'constraints = "mem <= 400"'),
     "objective.constraints", "expected a list"),
    (MULTI.replace('metrics = ["loss", "cost"]', 'metrics = ["loss", "2x"]'),
     "objective.metrics[1]", "not a metric name"),
    (MULTI.replace('metrics = ["loss", "cost"]', 'metrics = []'), "objective.metrics",
     "at least one"),
    (MULTI + 'metric = "loss"\n', "objective.metrics", "not both"),
]


@pytest.mark.parametrize("objective, key, message", BAD)
def test_bad_objective_tables_are_one_line_exit_2_nothing_started(tmp_path, objective, key,
                                                                 message):
    path = spec_file(tmp_path, objective)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).startswith(f"{path}: {key}: ") and message in str(info.value)
    outcome = check_spec_file(path, tmp_path / "home")  # the CLI: one line, exit 2, no run
    assert outcome.kind == "refused" and outcome.problem is None, outcome


@pytest.mark.parametrize("strategy", ["grid", "coordinate"])
def test_single_objective_strategies_refuse_several(tmp_path, strategy):
    path = spec_file(tmp_path, strategy=strategy)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert f"search strategy '{strategy}' optimises one objective" in str(info.value)
    assert check_spec_file(path, tmp_path / "home").problem is None


def two_costs():
    """Loss falls with lr; the cost and the memory grow with units."""

    def run(t: FakeTrial) -> ScriptRun:
        lr, units = float(t.params["lr"]), int(t.params["units"])
        for step in range(1, 4):
            t.report(step, loss=1.0 / (step * lr + 1.0) + 0.01 * (64 - units),
                     cost=float(units) + step, mem=10.0 * units)
            yield

    return run


def supervised(tmp_path, objective: str, **kw) -> FakeRun:
    clock = ManualClock()
    run_dir = create_run(load_spec(spec_file(tmp_path, objective, **kw)), tmp_path / "home")
    executor = FakeExecutor(two_costs(), clock)
    sup = Supervisor(run_dir, executor=executor, clock=clock)
    sup.register()
    return FakeRun(run_dir, sup, executor, clock)


@pytest.mark.parametrize("strategy", ["random", "bayes"])
def test_a_run_searches_every_objective_and_best_lists_the_feasible_front(tmp_path, strategy):
    extra = "n_initial = 4\ncandidates = 64\nrestarts = 2\n" if strategy == "bayes" else ""
    run = supervised(tmp_path, MULTI, strategy=strategy, concurrent=2,
                     budget="max_trials = 9", extra=extra)
    try:
        run.until(lambda: run.sup.finished, "the run to finish")
        store, spec = run.store, run.sup.spec
        assert store.count_trials(["completed"]) == 9
        # The searcher sees both objectives and the constraint of every trial (synced
        # here once more: the last trial ended after the searcher's last ask).
        run.sup.search.searcher.sync(run.sup.search.history())
        obs = run.sup.search.searcher.observations
        assert len(obs) == 9 and all(len(o.losses) == 2 and len(o.violations) == 1
                                     for o in obs)
        by_units = {int(o.params["units"]): o for o in obs}
        for units, o in by_units.items():
            assert o.losses[1] == pytest.approx(units + 3)  # the last cost reported
            assert o.violations[0] == pytest.approx(10.0 * units - 400)
        # The front, computed here from the store: feasible trials, non-dominated.
        rows = []
        for t in store.trials():
            loss = min(v for tid, _, v in store.metric_rows("loss") if tid == t.id)
            cost = [v for tid, _, v in store.metric_rows("cost") if tid == t.id][-1]
            units = int(t.params["units"])
            rows.append((t.id, loss, cost, 10 * units <= 400))
        feasible = [r for r in rows if r[3]]
        mask = pareto_mask([(r[1], r[2]) for r in feasible])
        expected = {r[0] for r, on in zip(feasible, mask) if on}
        shown = summary.leaderboard_json(store, spec)
        assert {t["id"] for t in shown["front"]} == expected
        assert set(shown["infeasible"]) == {r[0] for r in rows if not r[3]}
        text = summary.leaderboard(store, spec)
        assert text.startswith(f"Pareto front: {len(expected)} of 9 trials")
        assert "loss (min)" in text and "cost (min)" in text
        exported = json.loads(summary.export_json(store, spec))
        assert set(exported["front"]) == expected
        headers, csv_rows = summary.export_rows(store, spec)
        assert headers[-2:] == ["pareto_front", "feasible"]
        assert {r[0] for r in csv_rows if r[-2]} == expected
    finally:
        run.finish()


def test_built_in_measures_and_constraints_on_one_objective(tmp_path):
    # train_seconds is the engine's own measure (no script reports it): each trial runs
    # 3 ticks; the constraint on it is met by all, the one on mem by units <= 20.
    objective = ONE + 'secondary = ["mem"]\nconstraints = ["mem <= 200", "train_seconds <= 1e6"]\n'
    run = supervised(tmp_path, objective, strategy="random", concurrent=1,
                     budget="max_trials = 6")
    try:
        run.until(lambda: run.sup.finished, "the run to finish")
        history = run.sup.search.history()
        for t in history.trials:
            assert 0 < t.extras["train_seconds"] < 60 and t.extras["mem"] == 10 * t.params["units"]
        run.sup.search.searcher.sync(history)
        best = run.sup.search.searcher.incumbent()
        feasible = [t for t in history.trials if t.params["units"] <= 20]
        if feasible:
            assert best["units"] <= 20
            top = min(feasible, key=lambda t: t.value)
            shown = summary.leaderboard_json(run.store, run.sup.spec)
            assert shown["trials"][0]["id"] == top.id
            assert all(t["id"] in {f.id for f in feasible} for t in shown["trials"])
        assert math.isfinite(history.trials[0].extras["train_seconds"])
    finally:
        run.finish()
