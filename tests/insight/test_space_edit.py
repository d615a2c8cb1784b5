"""Acceptance: narrowing a live run's space from a second shell, with a real
supervisor, real trial processes and the real store."""

from __future__ import annotations

import json

import pytest

from tests.support.processes import cli, start_headless, stop_headless
from tests.support.specs import write_spec
from tests.support.store_reads import events, read
from tests.support.waiting import wait_for
from tuitune.engine.space_edit import META_KEY


def _created_after(run_dir, event_id):
    """Trials the search created after event `event_id`, with their params."""
    return [(e.trial_id, e.data["params"]) for e in events(run_dir)
            if e.kind == "created" and e.id > event_id and e.actor == "search"]


@pytest.mark.slow
@pytest.mark.parametrize("strategy,extra", [("random", ""), ("bayes", "n_initial = 4\n")])
def test_suggestions_after_a_narrowing_lie_in_the_new_range(tt_home, tmp_path, strategy, extra):
    spec = write_spec(tmp_path / "exp", steps=4, sleep=0.25, strategy=strategy, concurrent=2,
                      budget="max_trials = 40", extra=extra)
    proc, run_dir = start_headless(spec, tt_home)
    try:
        wait_for(lambda: read(run_dir, lambda s: s.count_trials(["completed"])) >= 5, 60,
                 "five finished trials")
        done = cli("space", str(run_dir), "lr=0.01..0.05", "units=10..20")
        assert done.returncode == 0, done.stderr
        assert "space revision 1" in done.stdout
        edit = next(e for e in events(run_dir) if e.kind == "space")
        assert edit.actor == "user"
        wait_for(lambda: len(_created_after(run_dir, edit.id)) >= 6, 90, "six suggestions after")
        after = _created_after(run_dir, edit.id)
        assert len(after) >= 6
        for _, params in after:
            assert 0.01 <= params["lr"] <= 0.05 and 10 <= params["units"] <= 20, params
        before = [e.data["params"] for e in events(run_dir)
                  if e.kind == "created" and e.id < edit.id]
        assert any(not 0.01 <= p["lr"] <= 0.05 for p in before)  # the edit changed something
    finally:
        stop_headless(proc, run_dir)


@pytest.mark.slow
def test_undo_bad_input_and_the_revision_chain(tt_home, tmp_path):
    spec = write_spec(tmp_path / "exp", steps=5000, sleep=0.05, concurrent=1)
    proc, run_dir = start_headless(spec, tt_home)
    try:
        run = str(run_dir)
        for args, said in ((["lr=0.5..0.1"], "low must be below high"),
                           (["nope=1..2"], "unknown parameter 'nope'"),
                           (["--fix", "units=1000"], "outside"),
                           (["--undo"], "nothing to undo"),
                           ([], "nothing to change")):
            bad = cli("space", run, *args)
            assert bad.returncode == 2 and said in bad.stderr and bad.stderr.count("\n") == 1
        assert read(run_dir, lambda s: s.meta().get(META_KEY)) is None  # nothing changed
        assert cli("space", run, "lr=0.001..0.01", "--log").returncode == 0
        assert cli("space", run, "--fix", "units=8").returncode == 0
        revs = read(run_dir, lambda s: s.meta()[META_KEY])
        assert [r["n"] for r in revs] == [1, 2]
        assert revs[1]["space"]["units"] == {"type": "fixed", "value": 8, "mutable": False}
        assert revs[1]["space"]["lr"]["low"] == 0.001  # revision 2 builds on revision 1
        undo = cli("space", run, "--undo")
        assert undo.returncode == 0 and "back to revision 1" in undo.stdout
        again = cli("space", run, "--undo")
        assert again.returncode == 0 and "back to revision 0" in again.stdout
        revs = read(run_dir, lambda s: s.meta()[META_KEY])
        spec_space = json.loads(read(run_dir, lambda s: s.meta()["spec"]))["spec"]["space"]
        assert revs[-1]["space"] == spec_space and revs[-1]["parent"] == 0
        assert [e.actor for e in events(run_dir) if e.kind == "space"] == ["user"] * 4
    finally:
        stop_headless(proc, run_dir)
