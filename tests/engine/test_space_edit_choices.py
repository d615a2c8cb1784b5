"""Space edits on a categorical under every strategy, with and without early stopping,
and hand actions after an edit: the real supervisor, store, commands and searchers
over fake trials (tests/support/fake_runs.py), edits sent by the CLI in this process.
The real-process versions of the range edits are in tests/insight/test_space_edit*.py."""

from __future__ import annotations

import pytest

from tests.support.fake_runs import live_fake_run, stepper
from tests.support.store_reads import events, read
from tests.support.waiting import wait_for
from tuitune.engine.space_edit import META_KEY

from .bad_input import run_cli

OPT = '\n[space.opt]\ntype = "categorical"\nchoices = ["adam", "sgd"]\n'
MEDIAN = ('\n[stopping]\nrules = ["median"]\n[stopping.median]\ngrace_steps = 1\n'
          'min_trials = 2\n')
STRATEGIES = [("random", ""), ("grid", "points_per_dim = 3\n"),
              ("coordinate", "points = 2\nsweeps = 3\n"), ("bayes", "n_initial = 3\n")]


def _suggested_after(run_dir, event_id) -> list[dict]:
    return [e.data["params"] for e in events(run_dir, "created")
            if e.id > event_id and e.actor == "search"]


def _edit(run_dir, *args: str) -> int:
    code, out, err = run_cli(["space", str(run_dir), *args])
    assert code == 0, err
    return max(e.id for e in events(run_dir, "space"))


def _finished(run_dir) -> int:
    return read(run_dir, lambda s: s.count_trials(["completed", "pruned"]))


@pytest.mark.parametrize("stopping", ["", MEDIAN], ids=["no-stopping", "median"])
@pytest.mark.parametrize("strategy,options", STRATEGIES, ids=[s for s, _ in STRATEGIES])
def test_a_choice_added_is_searched_and_a_choice_dropped_is_not(tt_home, tmp_path, strategy,
                                                                options, stopping):
    with live_fake_run(tmp_path, stepper(steps=4), tt_home, strategy=strategy, concurrent=2,
                       budget="max_trials = 200", extra=options + stopping + OPT) as run_dir:
        wait_for(lambda: _finished(run_dir) >= 4, 60, "four finished trials")
        added = _edit(run_dir, "--choices", "opt+=rmsprop")
        wait_for(lambda: any(p["opt"] == "rmsprop" for p in _suggested_after(run_dir, added)),
                 60, "a suggestion with the added choice")
        dropped = _edit(run_dir, "--choices", "opt-=adam")
        # Six more, or all a grid or a sweep has left in the new space.
        wait_for(lambda: len(_suggested_after(run_dir, dropped)) >= 6
                 or events(run_dir, "exhausted"), 60, "six suggestions")
        after = _suggested_after(run_dir, dropped)
        assert after and {p["opt"] for p in after} <= {"sgd", "rmsprop"}, after
        assert all(1e-4 <= p["lr"] <= 1 and 1 <= p["units"] <= 64 for p in after)
        assert not events(run_dir, "engine_error")
        assert [r["n"] for r in read(run_dir, lambda s: s.meta()[META_KEY])] == [1, 2]


def test_new_takes_the_current_revision_for_what_it_is_not_given(tt_home, tmp_path):
    """A parameter fixed by an edit is what `new` uses when not told otherwise (it used
    the spec's default, then warned that the trial lay outside the space)."""
    with live_fake_run(tmp_path, stepper(steps=5000), tt_home, concurrent=1,
                       extra=OPT) as run_dir:
        run = str(run_dir)
        _edit(run_dir, "--fix", "units=32", "--choices", "opt=sgd")
        code, out, err = run_cli(["new", run, "lr=0.01"])
        assert code == 0, err
        assert "warning" not in out, out
        made = read(run_dir, lambda s: s.trial(1))
        assert (made.params["units"], made.params["opt"]) == (32, "sgd")
        # Set on purpose outside the revision: done, with the warning.
        code, out, err = run_cli(["new", run, "lr=0.01", "units=8"])
        assert code == 0 and "warning: trial 2 lies outside" in out and "units=8" in out
        # So is a clone's --set; what the clone copies from its parent is not warned of.
        code, out, err = run_cli(["clone", run, "2", "--set", "opt=adam"])
        assert code == 0, err
        assert "warning: trial 3 lies outside" in out and "opt='adam'" in out, out
        assert "units=8" not in out.split("warning", 1)[1]
        assert [e.trial_id for e in events(run_dir, "outside_space")] == [2, 3]


@pytest.mark.parametrize("args,said", [
    (["lr=0.5..0.1"], "low must be below high"),
    (["units=2.5..30"], "expected an integer, got 2.5"),
    (["lr=a..b"], "bounds must be numbers"),
    (["--fix", "nope=1"], "unknown parameter 'nope'"),
    (["--fix", "units"], "--fix needs NAME=VALUE"),
    (["--fix", "opt=rmsprop"], "opt"),
    (["--choices", "nope=a,b"], "unknown parameter 'nope'"),
    (["--choices", "opt="], "expected --choices NAME=a,b"),
    (["nope=1..2"], "unknown parameter 'nope'"),
    (["--free", "steps"], "fixed in the spec and was never searched"),
    (["lr=0.01..0.1", "lr=0.2..0.3"], "lr is given twice"),
])
def test_bad_edits_are_one_line_exit_2_and_change_nothing(tt_home, tmp_path, args, said):
    with live_fake_run(tmp_path, stepper(steps=5000), tt_home, concurrent=1,
                       extra=OPT) as run_dir:
        code, out, err = run_cli(["space", str(run_dir), *args])
        assert code == 2 and said in err and err.count("\n") == 1, (code, err)
        assert read(run_dir, lambda s: s.meta().get(META_KEY)) is None
        assert not events(run_dir, "space")



def test_running_trials_are_not_touched_by_an_edit(tt_home, tmp_path):
    with live_fake_run(tmp_path, stepper(steps=5000), tt_home, concurrent=2,
                       extra=OPT) as run_dir:
        run = str(run_dir)
        assert run_cli(["new", run, "lr=0.5", "units=40", "opt=adam"])[0] == 0
        wait_for(lambda: read(run_dir, lambda s: s.trial(1).state) == "running", 30, "a trial")
        before = read(run_dir, lambda s: s.trial(1))
        _edit(run_dir, "lr=0.01..0.05", "--fix", "units=8", "--choices", "opt=sgd")
        points = lambda: len(read(run_dir, lambda s: s.metrics(trial_id=1, name="loss")))  # noqa: E731
        seen = points()
        wait_for(lambda: points() > seen + 5, 30, "trial 1 reporting on")
        after = read(run_dir, lambda s: s.trial(1))
        assert after.state == "running" and after.params == before.params
        assert not after.stop_requested and after.pid == before.pid
        assert not read(run_dir, lambda s: s.param_changes())  # no tweak either


def test_an_edit_in_manual_mode_holds_for_a_later_hand_off(tt_home, tmp_path):
    with live_fake_run(tmp_path, stepper(steps=3), tt_home, concurrent=2,
                       extra=OPT) as run_dir:
        run = str(run_dir)
        edit = _edit(run_dir, "lr=0.01..0.05", "--choices", "opt=sgd")
        code, _, err = run_cli(["handoff", run, "random", "--more", "6"])
        assert code == 0, err
        wait_for(lambda: len(_suggested_after(run_dir, edit)) >= 6, 30, "six suggestions")
        after = _suggested_after(run_dir, edit)
        assert all(0.01 <= p["lr"] <= 0.05 and p["opt"] == "sgd" for p in after), after


def test_the_space_forms_examples_name_what_this_run_can_do():
    from tuitune.core.space import CategoricalParam, FixedParam, FloatParam, IntParam, Space
    from tuitune.engine.space_edit import usage_examples

    spec = Space((FloatParam("lr", low=1e-4, high=1.0, log=True), IntParam("units", low=1,
                  high=64), CategoricalParam("opt", choices=("adam", "sgd")),
                  FixedParam("epochs", value=3)))
    assert usage_examples(spec, spec) == [
        "lr=LOW..HIGH --log", "--fix lr=VALUE", "--choices opt=A,B (opt+=C adds, opt-=C drops)",
        "--undo"]  # epochs is fixed by the spec: it cannot be freed
    edited = Space((spec["lr"], FixedParam("units", value=8), spec["opt"], spec["epochs"]))
    assert "--free units" in usage_examples(edited, spec)
