"""Acceptance: steering a headless run from a second shell with the CLI.

Real supervisor process, real trial processes, real SQLite store, real signals;
refusals of bad values, which need no trial process, against a run of fake trials
supervised in this process.
"""

from __future__ import annotations

import json

import psutil
import pytest

from tests.support.fake_runs import live_fake_run, stepper
from tests.support.processes import cli, start_headless, stop_headless
from tests.support.specs import write_spec
from tests.support.store_reads import events, trial
from tests.support.waiting import wait_for
from tuitune.client.run_client import RunClient
from tuitune.store import RunStore

from .bad_input import run_cli


@pytest.fixture
def fake_live_run(tt_home, tmp_path):
    with live_fake_run(tmp_path, stepper(), tt_home, steps=5000) as run_dir:
        yield run_dir


@pytest.fixture
def live_run(tt_home, tmp_path):
    spec = write_spec(tmp_path / "exp", steps=5000, sleep=0.05)
    proc, run_dir = start_headless(spec, tt_home)
    yield run_dir
    stop_headless(proc, run_dir)


def _reported(run_dir, trial_id, name="loss"):
    store = RunStore(run_dir)
    try:
        return store.metrics(trial_id=trial_id, name=name)
    finally:
        store.close()


def test_new_tweak_clone_kill_from_a_second_shell(live_run):
    run = str(live_run)
    out = cli("new", run, "lr=0.01", "units=4")
    assert out.returncode == 0, out.stderr
    assert "trial 1 queued" in out.stdout
    wait_for(lambda: len(_reported(live_run, 1)) >= 3, what="trial 1 reporting")
    assert trial(live_run, 1).params["lr"] == 0.01

    # Tweak: the trial's next reports carry the new value, and the store says from when.
    out = cli("tweak", run, "1", "lr=0.5")
    assert out.returncode == 0, out.stderr
    change = wait_for(lambda: [c for c in _changes(live_run, 1) if c.applied_step], what="ack")[0]
    assert (change.name, change.value) == ("lr", 0.5)
    wait_for(lambda: any(p.step >= change.applied_step
                         for p in _reported(live_run, 1, "lr")), what="reports after tweak")
    lrs = {p.step: p.value for p in _reported(live_run, 1, "lr")}
    assert lrs[change.applied_step] == 0.5
    assert all(v == 0.01 for s, v in lrs.items() if s < change.applied_step)

    # Clone from scratch with a changed parameter, and from the latest checkpoint.
    out = cli("clone", run, "1", "--set", "units=16")
    assert out.returncode == 0, out.stderr
    out = cli("clone", run, "1", "--from-checkpoint")
    assert out.returncode == 0, out.stderr
    scratch, resumed = trial(live_run, 2), trial(live_run, 3)
    assert (scratch.parent_id, scratch.params["units"], scratch.clone_step) == (1, 16, None)
    assert resumed.parent_id == 1 and resumed.from_checkpoint and resumed.clone_step >= 1
    # The checkpoint clone continues from the source's step, with the tweaked lr.
    first = wait_for(lambda: _reported(live_run, 3), what="clone reporting")[0]
    assert first.step == resumed.clone_step + 1
    assert resumed.params["lr"] == 0.5
    wait_for(lambda: _reported(live_run, 2), what="scratch clone reporting")
    assert _reported(live_run, 2)[0].step == 1

    # Kill: the process group is gone and the state says who did it.
    pid = trial(live_run, 1).pid
    out = cli("kill", run, "1")
    assert out.returncode == 0, out.stderr
    wait_for(lambda: trial(live_run, 1).state == "killed", what="trial 1 killed")
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    kinds = [(e.kind, e.trial_id, e.actor) for e in events(live_run)]
    for expected in [("created", 1, "user"), ("running", 1, "engine"),
                     ("tweak_requested", 1, "user"), ("tweak_applied", 1, "trial"),
                     ("created", 2, "user"), ("created", 3, "user"), ("killed", 1, "user")]:
        assert expected in kinds, expected


def _changes(run_dir, trial_id):
    store = RunStore(run_dir)
    try:
        return store.param_changes(trial_id)
    finally:
        store.close()


def test_pause_and_resume_signal_the_process_group(live_run):
    run = str(live_run)
    cli("new", run, "lr=0.01")
    t = wait_for(lambda: trial(live_run, 1).pid and trial(live_run, 1), what="start")
    assert cli("pause", run, "1").returncode == 0
    assert trial(live_run, 1).state == "paused"
    wait_for(lambda: psutil.Process(t.pid).status() == psutil.STATUS_STOPPED, what="SIGSTOP")
    count = len(_reported(live_run, 1))
    assert cli("unpause", run, "1").returncode == 0
    wait_for(lambda: len(_reported(live_run, 1)) > count + 2, what="reports after SIGCONT")
    assert trial(live_run, 1).state == "running"


def test_bad_cli_values_change_nothing(fake_live_run):
    live_run = fake_live_run
    run = str(live_run)
    assert run_cli(["new", run, "lr=0.01"])[0] == 0
    wait_for(lambda: trial(live_run, 1).state == "running", what="start")
    def user_made():  # what the user's commands caused; the trial's own life goes on
        store = RunStore(live_run)
        return json.dumps([[e.message for e in store.events() if e.actor != "engine"],
                           [c.id for c in store.param_changes()], len(store.trials())])

    before = user_made()
    cases = [
        (("tweak", run, "1", "units=3"), "not mutable"),
        (("tweak", run, "1", "lr=7"), "outside"),
        (("tweak", run, "1", "nope=1"), "unknown parameter"),
        (("new", run, "lr=fast"), "expected a number"),
        (("kill", run, "42"), "no trial 42"),
        (("kill", run, "x"), "positive integer"),
        (("clone", run, "1", "--set", "units"), "expected name=value"),
        (("handoff", run, "simulated-annealing"), "unknown strategy"),
        (("status", "no-such-run"), "no run named"),
    ]
    for args, message in cases:  # the CLI's own code, run in this process
        code, stdout, stderr = run_cli(list(args))
        assert code == 2, (args, stdout, stderr)
        assert message in stderr, (args, stderr)
        assert len(stderr.strip().splitlines()) == 1, stderr
    assert user_made() == before


def test_stop_ends_every_trial_process_and_the_supervisor(tt_home, tmp_path):
    spec = write_spec(tmp_path / "exp", steps=5000, sleep=0.05)
    proc, run_dir = start_headless(spec, tt_home)
    client = RunClient(run_dir, actor="user")  # the trials to stop; the stop is the CLI's
    for lr in (0.01, 0.02, 0.03):
        assert client.send("new", {"params": {"lr": lr}}).status == "done"
    client.close()
    wait_for(lambda: RunStore(run_dir).count_trials(["running"]) == 3, what="3 running")
    pids = [t.pid for t in RunStore(run_dir).trials()]
    out = cli("stop", str(run_dir))
    assert out.returncode == 0, out.stderr
    assert proc.wait(timeout=60) == 3  # the follower ends with the run: stopped
    for pid in pids:  # and took its trials with it: nothing left for a safety net
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    store = RunStore(run_dir)
    assert {t.state for t in store.trials()} == {"killed"}
    assert store.meta()["state"] == "finished"


def test_handoff_from_the_cli_names_the_stopping_rules(tt_home, tmp_path):
    """`tuitune handoff RUN STRATEGY --rule predict --rule-option predict.top_k=5`: the
    live supervisor runs those rules from then on (meta and event say so)."""
    with live_fake_run(tmp_path, stepper(), tt_home, steps=5000,
                       budget="max_steps = 100") as run_dir:
        code, out, err = run_cli(["handoff", str(run_dir), "manual", "--rule", "predict",
                                  "--rule", "divergence", "--rule-option", "predict.top_k=5"])
        assert code == 0, err
        assert "stopping rules: predict, divergence" in out
        store = RunStore(run_dir)
        try:
            assert store.meta()["stopping_rules"] == [["predict", {"top_k": 5}],
                                                      ["divergence", {}]]
        finally:
            store.close()
        code, out, err = run_cli(["handoff", str(run_dir), "manual", "--no-rules"])
        assert code == 0 and "stopping rules: none" in out, err
