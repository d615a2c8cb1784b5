"""Space edits under every strategy, with real runs: a real supervisor, real trial
processes, the edits sent by `tuitune space` from a second shell."""

from __future__ import annotations

import pytest

from tests.support.processes import cli, start_headless, stop_headless
from tests.support.specs import write_spec
from tests.support.store_reads import events, read
from tests.support.waiting import wait_for
from tuitune.engine.space_edit import META_KEY

CATEGORICAL = '\n[space.opt]\ntype = "categorical"\nchoices = ["adam", "sgd"]\n'


def _completed(run_dir) -> int:
    return read(run_dir, lambda s: s.count_trials(["completed"]))


def _suggested_after(run_dir, event_id):
    """(params, message) of every trial the search created after event `event_id`."""
    return [(e.data["params"], e.message) for e in events(run_dir)
            if e.kind == "created" and e.id > event_id and e.actor == "search"]


def _edit(run_dir, *args: str) -> int:
    """Send an edit; the id of the `space` event it recorded."""
    done = cli("space", str(run_dir), *args)
    assert done.returncode == 0, done.stderr
    return max(e.id for e in events(run_dir) if e.kind == "space")


def _narrow_units(spec, high: int) -> None:
    """The helper's spec searches units in [1, 64]: start from a narrower range."""
    spec.write_text(spec.read_text().replace("high = 64", f"high = {high}"))


@pytest.mark.slow
def test_bayes_after_a_fix_keeps_learning_from_the_earlier_trials(tt_home, tmp_path):
    spec = write_spec(tmp_path / "exp", steps=3, sleep=0.2, strategy="bayes", concurrent=2,
                      budget="max_trials = 30", extra="n_initial = 4\n")
    proc, run_dir = start_headless(spec, tt_home)
    try:
        wait_for(lambda: _completed(run_dir) >= 6, 90, "six finished trials")
        edit = _edit(run_dir, "--fix", "units=8")
        wait_for(lambda: len(_suggested_after(run_dir, edit)) >= 3, 90, "suggestions after")
        after = _suggested_after(run_dir, edit)
        assert all(p["units"] == 8 for p, _ in after), after
        # Six results are past n_initial = 4: the rebuilt searcher counts the trials of
        # the earlier revision, so it goes on from the model, not a fresh initial design.
        assert not any("initial design" in m for _, m in after), after
        assert all("suggested by bayes" in m for _, m in after)
        free = cli("space", str(run_dir), "--free", "units")
        assert free.returncode == 0 and "units free again: int [1, 64]" in free.stdout
        revs = read(run_dir, lambda s: s.meta()[META_KEY])
        assert revs[-1]["space"]["units"]["type"] == "int"
    finally:
        stop_headless(proc, run_dir)


@pytest.mark.slow
@pytest.mark.parametrize("strategy,options", [
    ("grid", "points_per_dim = 3\n"), ("coordinate", "points = 3\nsweeps = 2\n")])
def test_widening_under_grid_and_coordinate(tt_home, tmp_path, strategy, options):
    spec = write_spec(tmp_path / "exp", steps=2, sleep=0.1, strategy=strategy, concurrent=1,
                      budget="max_trials = 40", extra=options)
    _narrow_units(spec, 16)
    proc, run_dir = start_headless(spec, tt_home)
    try:
        wait_for(lambda: _completed(run_dir) >= 3, 90, "three finished trials")
        edit = _edit(run_dir, "units=1..64")
        before = [e.data["params"]["units"] for e in events(run_dir)
                  if e.kind == "created" and e.id < edit]
        assert max(before) <= 16
        wait_for(lambda: any(p["units"] > 16 for p, _ in _suggested_after(run_dir, edit)),
                 120, "a suggestion in the widened part")
        after = _suggested_after(run_dir, edit)
        assert all(1 <= p["units"] <= 64 and 1e-4 <= p["lr"] <= 1 for p, _ in after)
        assert not [e for e in events(run_dir) if e.kind == "engine_error"]
    finally:
        stop_headless(proc, run_dir)


@pytest.mark.slow
def test_narrowing_with_early_stopping(tt_home, tmp_path):
    stopping = ('\n[stopping]\nrules = ["median"]\n[stopping.median]\ngrace_steps = 2\n'
                'min_trials = 2\n')
    spec = write_spec(tmp_path / "exp", steps=8, sleep=0.1, strategy="bayes", concurrent=2,
                      budget="max_trials = 40", extra="n_initial = 3\n" + stopping)
    proc, run_dir = start_headless(spec, tt_home)
    try:
        wait_for(lambda: read(run_dir, lambda s: s.count_trials(["completed", "pruned"])) >= 5,
                 120, "five finished trials")
        edit = _edit(run_dir, "lr=0.01..0.05")
        wait_for(lambda: len(_suggested_after(run_dir, edit)) >= 4, 120, "four suggestions")
        assert all(0.01 <= p["lr"] <= 0.05 for p, _ in _suggested_after(run_dir, edit))
        assert not [e for e in events(run_dir) if e.kind == "engine_error"]
    finally:
        stop_headless(proc, run_dir)


@pytest.mark.slow
def test_choices_free_and_hand_actions_outside(tt_home, tmp_path):
    spec = write_spec(tmp_path / "exp", steps=5000, sleep=0.05, concurrent=1,
                      extra=CATEGORICAL + '\n[space.wd]\ntype = "fixed"\nvalue = 0.0\n')
    proc, run_dir = start_headless(spec, tt_home)
    try:
        run = str(run_dir)
        for args, said in ((["--choices", "opt-=rmsprop"], "'rmsprop' is not one of"),
                           (["--choices", "opt-=adam,sgd"], "leaves none"),
                           (["--choices", "lr=1,2"], "not categorical"),
                           (["--free", "lr"], "lr is not fixed"),
                           (["--free", "wd"], "fixed in the spec and was never searched"),
                           (["units=1.5..20"], "units"),
                           (["--free", "nope"], "unknown parameter 'nope'")):
            bad = cli("space", run, *args)
            assert bad.returncode == 2 and said in bad.stderr, (args, bad.stderr)
            assert bad.stderr.count("\n") == 1
        assert read(run_dir, lambda s: s.meta().get(META_KEY)) is None  # nothing changed
        assert "opt in {adam, sgd, rmsprop}" in cli("space", run, "--choices",
                                                     "opt+=rmsprop").stdout
        assert "opt in {adam, rmsprop}" in cli("space", run, "--choices", "opt-=sgd").stdout
        assert "opt in {sgd}" in cli("space", run, "--choices", "opt=sgd").stdout
        assert cli("space", run, "--fix", "units=8").returncode == 0
        assert cli("space", run, "lr=0.01..0.05").returncode == 0
        # A fixed parameter keeps its fixed value through later edits, then frees.
        assert "units free again: int [1, 64]" in cli("space", run, "--free", "units").stdout
        revs = read(run_dir, lambda s: s.meta()[META_KEY])
        assert revs[-1]["space"]["opt"]["choices"] == ["sgd"]
        assert revs[-1]["space"]["lr"]["low"] == 0.01
        undo = cli("space", run, "--undo")
        assert undo.returncode == 0
        assert read(run_dir, lambda s: s.meta()[META_KEY])[-1]["space"]["units"] == {
            "type": "fixed", "value": 8, "mutable": False}
        # Hand actions may leave the space on purpose: done, with a warning.
        new = cli("new", run, "lr=0.5", "units=8", "opt=adam")
        assert new.returncode == 0, new.stderr
        assert "warning: trial" in new.stdout and "lr=0.5" in new.stdout, new.stdout
        assert "opt='adam'" in new.stdout
        warned = [e for e in events(run_dir) if e.kind == "outside_space"]
        assert len(warned) == 1 and warned[0].actor == "user"
        inside = cli("new", run, "lr=0.02", "units=8", "opt=sgd")
        assert inside.returncode == 0 and "warning" not in inside.stdout
    finally:
        stop_headless(proc, run_dir)
