"""`tuitune budget` on live and finished runs: real supervisor, real trials."""

from __future__ import annotations

import re
import time

import pytest

from tests.support.processes import cli, start_headless, stop_headless
from tests.support.specs import write_spec
from tests.support.store_reads import events, read
from tests.support.waiting import wait_for


def _count(run_dir, states=None) -> int:
    return read(run_dir, lambda s: s.count_trials(states))


@pytest.mark.slow
def test_a_budget_below_what_ran_is_refused_and_a_new_cap_stops_the_run(tt_home, tmp_path):
    spec = write_spec(tmp_path / "exp", steps=5000, sleep=0.05, strategy="random", concurrent=2,
                      budget="max_trials = 3")
    proc, run_dir = start_headless(spec, tt_home)
    run = str(run_dir)
    try:
        wait_for(lambda: _count(run_dir, ["running"]) == 2, 60, "two running trials")
        time.sleep(1.5)  # both have run over a second
        meta_before = read(run_dir, lambda s: s.meta())
        for args, said in ((["--max-trials", "1"], "a total of 1 trials is below the 2 this "
                                                   "run has had; use --more N"),
                           (["--experiment-timeout", "1s"], "below the"),
                           (["--trial-timeout", "1"], r"below the \d+(\.\d+)?s trial 1 has run"),
                           (["--trial-timeout", "banana"], "trial-timeout: expected seconds"),
                           (["--experiment-timeout=-5m"], "expected seconds"),
                           (["--max-concurrent", "0"], "expected a positive integer"),
                           ([], "nothing to change")):
            bad = cli("budget", run, *args)
            assert bad.returncode == 2, (args, bad.stdout, bad.stderr)
            assert re.search(said, bad.stderr) and bad.stderr.count("\n") == 1, (args, bad.stderr)
        meta = read(run_dir, lambda s: s.meta())
        keys = ("max_trials", "max_concurrent", "trial_timeout", "experiment_timeout")
        assert {k: meta.get(k) for k in keys} == {k: meta_before.get(k) for k in keys}
        assert not [e for e in events(run_dir) if e.kind == "budget"]

        cap = int(time.time() - meta["started_at"]) + 20  # a CLI call takes seconds here
        done = cli("budget", run, "--experiment-timeout", str(cap))
        assert done.returncode == 0, done.stderr
        wait_for(lambda: any(e.kind == "timeout" for e in events(run_dir)), 60, "the time cap")
        assert proc.wait(60) == 3  # stopped, as any stop
    finally:
        stop_headless(proc, run_dir)


@pytest.mark.slow
def test_more_trials_and_concurrency_live_and_on_a_finished_run(tt_home, tmp_path):
    spec = write_spec(tmp_path / "exp", steps=6, sleep=0.3, strategy="random", concurrent=1,
                      budget="max_trials = 3")
    proc, run_dir = start_headless(spec, tt_home)
    run = str(run_dir)
    try:
        wait_for(lambda: _count(run_dir, ["completed"]) >= 1, 60, "a finished trial")
        done = cli("budget", run, "--more", "3", "--max-concurrent", "2", "--trial-timeout", "30m")
        assert done.returncode == 0, done.stderr
        total = int(re.search(r"max trials 3 -> (\d+)", done.stdout).group(1))
        assert total in (5, 6) and "trial timeout none -> 30m" in done.stdout  # 2 or 3 ran + 3
        meta = read(run_dir, lambda s: s.meta())
        assert (meta["max_trials"], meta["max_concurrent"], meta["trial_timeout"]) == (
            total, 2, 1800)
        [edit] = [e for e in events(run_dir) if e.kind == "budget"]
        assert edit.actor == "user" and edit.data["after"]["max_trials"] == total
        # The live supervisor acts on it, not just stores it: two trials run at once.
        wait_for(lambda: _count(run_dir, ["running"]) == 2, 60, "two trials at once")
        wait_for(lambda: any(e.kind == "finished" for e in events(run_dir)), 120, "the end")
        assert _count(run_dir) == total
        proc.wait(30)

        # A finished run takes more: a supervisor starts, runs them, finishes again.
        more = cli("budget", run, "--more", "2")
        assert more.returncode == 0, more.stderr
        wait_for(lambda: sum(e.kind == "finished" for e in events(run_dir)) == 2, 120,
                 "the second end")
        assert _count(run_dir) == total + 2 and _count(run_dir, ["completed"]) == total + 2
    finally:
        stop_headless(proc, run_dir)
