"""Issue acceptance: every strategy takes over a manual run and learns from the
trials run by hand before it; handing back to manual stops new suggestions and
leaves running trials alone. PBT replaces laggards through clone-from-checkpoint."""

from __future__ import annotations

import pytest

from tuitune.engine.runs import create_run
from tuitune.engine.supervisor import Supervisor
from tuitune.core.spec import load_spec

from .helpers import wait_for, write_spec


def _supervisor(tmp_path, tt_home, **kw):
    spec = write_spec(tmp_path / "exp", **kw)
    sup = Supervisor(create_run(load_spec(spec), tt_home / "runs"))
    sup.register()
    return sup


def _tick_until(sup, predicate, what, timeout=60):
    return wait_for(lambda: (sup.tick(), predicate())[1], timeout=timeout, what=what)


def _finish(sup):
    sup._do_stop({}, "test")
    _tick_until(sup, lambda: not sup.handles, "stop")
    sup.close()


@pytest.mark.parametrize("strategy", ["random", "grid", "coordinate", "bayes"])
def test_handoff_learns_from_hand_trials_and_hands_back(tmp_path, tt_home, strategy):
    sup = _supervisor(tmp_path, tt_home, steps=3, sleep=0.01, concurrent=2)
    store = sup.store
    try:
        for lr in (0.001, 0.3):  # trials run by hand first
            store.enqueue_command("new", {"params": {"lr": lr, "units": 8}}, "user")
        _tick_until(sup, lambda: store.count_trials(["completed"]) == 2, "hand trials")
        options = {"n_initial": 3} if strategy == "bayes" else {}
        store.enqueue_command("handoff", {"strategy": strategy, "options": options,
                                          "max_trials": 6}, "user")
        _tick_until(sup, lambda: store.count_trials() == 6
                    and store.count_trials(["completed"]) == 6, f"{strategy} trials")
        searched = [t for t in store.trials() if t.origin == strategy]
        assert len(searched) == 4  # the budget counts the hand trials
        keys = [sup.spec.space.key(t.params) for t in store.trials()]
        assert len(set(keys)) == len(keys), "a configuration was suggested twice"
        assert sup.finished == "budget used"
        # The searcher saw the hand trials: its history holds them as observations.
        observed = {round(p["lr"], 6) for p, _ in sup._history().observations()}
        assert {0.001, 0.3} <= observed
    finally:
        _finish(sup)


def test_back_to_manual_stops_suggestions_but_not_running_trials(tmp_path, tt_home):
    sup = _supervisor(tmp_path, tt_home, steps=400, sleep=0.05, concurrent=2)
    store = sup.store
    try:
        store.enqueue_command("handoff", {"strategy": "random", "options": {}}, "user")
        _tick_until(sup, lambda: store.count_trials(["running"]) == 2, "random trials")
        store.enqueue_command("handoff", {"strategy": "manual", "options": {}}, "user")
        for _ in range(20):
            sup.tick()
        assert store.count_trials(["running"]) == 2 and store.count_trials() == 2
        store.enqueue_command("new", {"params": {"lr": 0.01}}, "user")  # a hand trial after
        for _ in range(5):
            sup.tick()
        assert store.count_trials() == 3 and store.trial(3).origin == "manual"
        assert store.meta()["strategy"] == "manual"
    finally:
        _finish(sup)


PBT = """
import time
import tuitune.in_trial.trial as tt
p = tt.params()
lr = float(p["lr"])
start = tt.initial_step()
value = float(tt.initial_checkpoint().read_text()) if tt.initial_checkpoint() else 10.0
for step in range(start + 1, 200):
    lr = float(tt.apply_tweaks(step).get("lr", lr))
    value -= lr  # bigger learning rates improve faster here
    tt.report(step, loss=value)
    ckpt = tt.checkpoint_dir() / f"value-{step}.txt"  # a new file per step, written whole
    ckpt.with_suffix(".tmp").write_text(repr(value))
    ckpt.with_suffix(".tmp").replace(ckpt)
    tt.checkpoint_saved(ckpt, step)
    if tt.should_stop():
        break
    time.sleep(0.03)
"""


def test_pbt_replaces_laggards_with_perturbed_clones_from_checkpoints(tmp_path, tt_home):
    sup = _supervisor(tmp_path, tt_home, script=PBT, concurrent=4,
                      extra="\n[stopping]\nrules = [\"pbt\"]\n[stopping.pbt]\ninterval = 5\n"
                            "quantile = 0.25\n")
    store = sup.store
    try:
        for lr in (0.001, 0.002, 0.5, 0.6):
            store.enqueue_command("new", {"params": {"lr": lr}}, "user")
        clone = _tick_until(sup, lambda: [t for t in store.trials() if t.origin == "pbt"],
                            "a PBT exploit")[0]
        source = store.trial(clone.parent_id)
        assert clone.from_checkpoint
        assert clone.clone_step is not None and clone.initial_checkpoint
        assert clone.params["lr"] != source.params["lr"]  # explored
        assert 0.0001 <= clone.params["lr"] <= 1.0
        replaced = _tick_until(sup, lambda: [e for e in store.events()
                                             if e.actor == "pbt" and e.kind == "pruned"],
                               "the laggard's end")
        target = replaced[0].trial_id
        assert replaced[0].data["source"] == source.id != target
        # The leader was ahead of the laggard it replaced when it was cloned.
        lead = [p.value for p in store.metrics(trial_id=source.id, name="loss")
                if p.step == clone.clone_step][0]
        lag = [p.value for p in store.metrics(trial_id=target, name="loss")
               if p.t <= store.trial(clone.id).created_at][-1]
        assert lead < lag
        # The clone continues from the leader's checkpoint, not from scratch.
        first = _tick_until(sup, lambda: store.metrics(trial_id=clone.id, name="loss"),
                            "clone reporting")[0]
        # Its first step starts from the leader's value at the checkpoint, minus its own lr.
        assert first.step == clone.clone_step + 1
        assert abs(first.value - (lead - clone.params["lr"])) < 1e-9
    finally:
        _finish(sup)
