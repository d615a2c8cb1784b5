"""The insight's read of a run matches the searchers' own History where it matters."""

from __future__ import annotations

from tests.support.specs import write_spec
from tuitune.client.insight_feed import run_history
from tuitune.core.spec import load_spec
from tuitune.engine.runs import create_run
from tuitune.engine.snapshot import ObjectiveCurves, build_history
from tuitune.insight import trial_points
from tuitune.store import RunStore


def _run(tmp_path, states):
    spec = load_spec(write_spec(tmp_path / "exp"))
    run_dir = create_run(spec, tmp_path / "runs")
    store = RunStore(run_dir)
    for i, state in enumerate(states):
        tid = store.create_trial({"lr": 0.001 * (i + 1), "units": 4}, "random", "search")
        last = 10 if state in ("completed", "running") else 4
        store.add_metrics(tid, [(s, "loss", 1.0 / s + 0.1 * ((i * 7) % 5), 0.0)
                                for s in range(1, last + 1)])
        store.transition(tid, state, "engine", state)
    return spec, store


def _points(history):
    return [(p.id, p.value, p.mark) for p in trial_points(history)[0]]


def test_same_points_as_the_full_history_with_and_without_early_stopping(tmp_path):
    for name, states in (("full", ["completed"] * 6 + ["running", "diverged"]),
                         ("stopped", ["completed"] * 2 + ["pruned"] * 4 + ["running"])):
        spec, store = _run(tmp_path / name, states)
        try:
            curves = ObjectiveCurves(spec.objective.metric)
            curves.update(store)
            full = build_history(store, spec.objective, curves, 0.0, spec.budget.max_steps)
            fast = run_history(store, spec)
        finally:
            store.close()
        assert _points(fast) == _points(full)
        assert [t.value for t in fast.trials] == [t.value for t in full.trials]
        running = [t for t in fast.trials if t.state == "running"]
        assert running[0].curve == full.get(running[0].id).curve  # whole, for the plateau
