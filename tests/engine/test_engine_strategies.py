"""Issue acceptance: every strategy takes over a manual run and learns from the
trials run by hand before it; handing back to manual stops new suggestions and
leaves running trials alone. PBT replaces laggards through clone-from-checkpoint.

Engine logic only: the trials are fake (tuitune/executors/fake.py), the supervisor,
store, commands, searchers and rules are real."""

from __future__ import annotations

import pytest

from tests.support.fake_runs import FakeTrial, fake_run, hang, stepper


@pytest.mark.parametrize("strategy", ["random", "grid", "coordinate", "bayes"])
def test_handoff_learns_from_hand_trials_and_hands_back(tmp_path, strategy):
    run = fake_run(tmp_path, stepper(), steps=3, concurrent=2)
    sup, store = run.sup, run.store
    try:
        for lr in (0.001, 0.3):  # trials run by hand first
            store.enqueue_command("new", {"params": {"lr": lr, "units": 8}}, "user")
        run.until(lambda: store.count_trials(["completed"]) == 2, "hand trials")
        options = {"n_initial": 3} if strategy == "bayes" else {}
        store.enqueue_command("handoff", {"strategy": strategy, "options": options,
                                          "max_trials": 6}, "user")
        run.until(lambda: store.count_trials() == 6
                  and store.count_trials(["completed"]) == 6, f"{strategy} trials")
        searched = [t for t in store.trials() if t.origin == strategy]
        assert len(searched) == 4  # the budget counts the hand trials
        keys = [sup.spec.space.key(t.params) for t in store.trials()]
        assert len(set(keys)) == len(keys), "a configuration was suggested twice"
        assert sup.finished == "budget used"
        # The searcher saw the hand trials: its history holds them as observations.
        observed = {round(p["lr"], 6) for p, _ in sup.search.history().observations()}
        assert {0.001, 0.3} <= observed
    finally:
        run.finish()


def test_back_to_manual_stops_suggestions_but_not_running_trials(tmp_path):
    run = fake_run(tmp_path, hang(), concurrent=2)
    store = run.store
    try:
        store.enqueue_command("handoff", {"strategy": "random", "options": {}}, "user")
        run.until(lambda: store.count_trials(["running"]) == 2, "random trials")
        store.enqueue_command("handoff", {"strategy": "manual", "options": {}}, "user")
        run.tick(20)
        assert store.count_trials(["running"]) == 2 and store.count_trials() == 2
        store.enqueue_command("new", {"params": {"lr": 0.01}}, "user")  # a hand trial after
        run.tick(5)
        assert store.count_trials() == 3 and store.trial(3).origin == "manual"
        assert store.meta()["strategy"] == "manual"
        assert all(run.trial(tid).ended is None for tid in (1, 2))  # left alone
    finally:
        run.finish()


def pbt(t: FakeTrial):
    """Bigger learning rates improve faster; the value is carried in the checkpoint."""
    lr = float(t.params["lr"])
    value = float(t.initial_checkpoint.read_text()) if t.initial_checkpoint else 10.0
    for step in range(t.initial_step + 1, 200):
        lr = float(t.apply_tweaks(step).get("lr", lr))
        value -= lr
        t.report(step, loss=value)
        t.checkpoint(step, repr(value))
        if t.should_stop():
            break
        yield


def test_pbt_replaces_laggards_with_perturbed_clones_from_checkpoints(tmp_path):
    run = fake_run(tmp_path, pbt, concurrent=4,
                   extra="\n[stopping]\nrules = [\"pbt\"]\n[stopping.pbt]\ninterval = 5\n"
                         "quantile = 0.25\n")
    store = run.store
    try:
        for lr in (0.001, 0.002, 0.5, 0.6):
            store.enqueue_command("new", {"params": {"lr": lr}}, "user")
        clone = run.until(lambda: [t for t in store.trials() if t.origin == "pbt"],
                          "a PBT exploit")[0]
        source = store.trial(clone.parent_id)
        assert clone.from_checkpoint
        assert clone.clone_step is not None and clone.initial_checkpoint
        assert clone.params["lr"] != source.params["lr"]  # explored
        assert 0.0001 <= clone.params["lr"] <= 1.0
        replaced = run.until(lambda: [e for e in store.events()
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
        first = run.until(lambda: store.metrics(trial_id=clone.id, name="loss"),
                          "clone reporting")[0]
        # Its first step starts from the leader's value at the checkpoint, minus its own lr.
        assert first.step == clone.clone_step + 1
        assert abs(first.value - (lead - clone.params["lr"])) < 1e-9
    finally:
        run.finish()


def test_handoff_sets_the_stopping_rules_that_run_from_then_on(tmp_path):
    """A hand-off may name the stopping rules (here the predict rule, with options):
    before it the run has none and stops nothing; after it the rule stops the trial
    whose curve will not end among the best, and a restarted supervisor keeps it."""
    run = fake_run(tmp_path, stepper(), steps=60, concurrent=3, budget="max_steps = 60")
    store = run.store
    try:
        for lr in (0.002, 1.0, 0.5):  # the first one will end far behind
            store.enqueue_command("new", {"params": {"lr": lr, "units": 8}}, "user")
        run.until(lambda: all(len(store.curve(t, "loss")) >= 8 for t in (1, 2, 3)), "8 steps")
        assert store.count_trials(["running"]) == 3  # no rule yet: nothing is stopped
        store.enqueue_command("handoff", {"strategy": "manual", "options": {},
                                          "rules": [["predict", {"top_k": 2}]]}, "user")
        run.until(lambda: store.trial(1).state == "pruned", "the predict rule to stop trial 1")
        ended = [e for e in store.events(trial_id=1) if "pruned" in e.message]
        assert ended[0].message.startswith("trial 1 pruned: predicted final loss")
        assert "top 2" in ended[0].message and ended[0].actor == "stopping rule predict"
        assert store.meta()["stopping_rules"] == [["predict", {"top_k": 2}]]
        assert "stopping rules: predict" in [e for e in store.events()
                                             if e.kind == "handoff"][-1].message
        assert run.restart().sup.search.rule_config == [("predict", {"top_k": 2})]
    finally:
        run.finish()


def test_handoff_without_rules_keeps_the_rules_and_their_state(tmp_path):
    run = fake_run(tmp_path, hang(), concurrent=1,
                   extra='\n[stopping]\nrules = ["asha"]\n[stopping.asha]\nmax_steps = 9\n')
    try:
        rules = run.sup.search.rules
        run.store.enqueue_command("handoff", {"strategy": "random", "options": {}}, "user")
        run.until(lambda: run.store.meta().get("strategy") == "random", "the hand-off")
        assert run.sup.search.rules is rules and "stopping_rules" not in run.store.meta()
        # The same rules named again are the same rules: ASHA keeps its rungs.
        run.store.enqueue_command("handoff", {"strategy": "random", "options": {},
                                              "rules": [["asha", {"max_steps": 9}]]}, "user")
        run.until(lambda: "stopping_rules" in run.store.meta(), "the second hand-off")
        assert run.sup.search.rules is rules
        run.store.enqueue_command("handoff", {"strategy": "random", "options": {},
                                              "rules": []}, "user")
        run.until(lambda: run.store.meta()["stopping_rules"] == [], "no rules")
        assert run.sup.search.rules == []
    finally:
        run.finish()
