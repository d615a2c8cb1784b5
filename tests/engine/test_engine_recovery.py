"""Never lose an experiment: supervisor crashes, reboots, pid reuse, two front ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psutil

from tests.support.fake_runs import live_fake_run, stepper
from tests.support.processes import cli, kill_supervisor, start_headless
from tests.support.specs import write_spec
from tests.support.store_reads import trial
from tests.support.waiting import wait_for
from tuitune.client.run_client import RunClient
from tuitune.executors import LocalExecutor, TrialHandle
from tuitune.executors.local import process_start_time
from tuitune.store import RunStore


def _points(run_dir, trial_id):
    store = RunStore(run_dir)
    try:
        return store.metrics(trial_id=trial_id, name="loss")
    finally:
        store.close()


# Trials 1 and 2 report a step every 0.05 s until the test creates GO (after the
# resume), then five more; trials 3 and 4 report five. Waiting on a condition, not on
# a fixed 300 steps, so the unsupervised stretch is as long as the machine needs.
GATED = """
import os, time
import tuitune.in_trial.trial as tt
go = os.path.join(os.path.dirname(os.path.abspath(__file__)), "GO")
gated = tt.trial_id() <= 2
step, left = 0, 5
while left:
    step += 1
    tt.report(step, loss=1.0 / step)
    if not gated or os.path.exists(go):
        left -= 1
    time.sleep(0.05)
"""


def test_sigkilled_supervisor_trials_keep_writing_and_resume_adopts_them(tmp_path, tt_home):
    spec = write_spec(tmp_path / "exp", script=GATED, strategy="random",
                      concurrent=2, budget="max_trials = 4")
    proc, run_dir = start_headless(spec, tt_home)
    wait_for(lambda: trial(run_dir, 2) and trial(run_dir, 2).state == "running", what="2 running")
    wait_for(lambda: len(_points(run_dir, 1)) > 3, what="trial 1 reporting")
    kill_supervisor(run_dir)
    assert proc.wait(timeout=30) == 1  # the follower says the supervisor is gone
    t1 = trial(run_dir, 1)
    before = len(_points(run_dir, 1))
    # Trials outlive their supervisor and keep writing to the store.
    wait_for(lambda: len(_points(run_dir, 1)) > before + 5, what="writes without a supervisor")
    assert psutil.Process(t1.pid).is_running()
    listing = cli("ls").stdout
    assert "no supervisor" in listing

    alive = {t.id for t in RunStore(run_dir).trials(["running"])
             if psutil.pid_exists(t.pid) and psutil.Process(t.pid).status() != "zombie"}
    assert alive
    out = cli("resume", str(run_dir))
    assert out.returncode == 0, out.stderr
    (spec.parent / "GO").touch()  # the adopted trials may end now
    wait_for(lambda: RunStore(run_dir).meta().get("state") == "finished", timeout=60,
             what="the resumed run to finish")
    store = RunStore(run_dir)
    trials = store.trials()
    assert [t.id for t in trials] == [1, 2, 3, 4]  # no duplicate ids, budget respected
    assert all(t.state == "completed" for t in trials), [(t.id, t.state) for t in trials]
    kinds = [(e.kind, e.trial_id) for e in store.events()]
    adopted = {tid for kind, tid in kinds if kind == "adopted"}
    assert alive <= adopted, kinds  # live trials were adopted, not restarted
    for tid in adopted:
        assert len([k for k, t in kinds if k == "running" and t == tid]) == 1
    # Every step of an adopted trial is there once, the unsupervised stretch included.
    steps = [p.step for p in store.metrics(trial_id=1, name="loss")]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) > before + 5 + 5


def test_trials_that_died_while_unsupervised_are_lost_and_requeue_from_checkpoint(
        tmp_path, tt_home):
    spec = write_spec(tmp_path / "exp", steps=500, sleep=0.05)
    proc, run_dir = start_headless(spec, tt_home)
    cli("new", str(run_dir), "lr=0.02")
    wait_for(lambda: (trial(run_dir, 1).checkpoint_step or 0) >= 3, what="a checkpoint")
    # A "reboot": the supervisor and the trial die together, with no exit status written.
    t = trial(run_dir, 1)
    kill_supervisor(run_dir)
    os.killpg(t.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    wait_for(lambda: not psutil.pid_exists(t.pid) or
             psutil.Process(t.pid).status() == psutil.STATUS_ZOMBIE, what="trial dead")
    assert cli("resume", str(run_dir)).returncode == 0
    wait_for(lambda: trial(run_dir, 1).state == "lost", what="marked lost")
    kept = len(_points(run_dir, 1))
    assert kept >= 3  # its metrics are intact
    out = cli("requeue", str(run_dir), "--lost")
    assert out.returncode == 0, out.stderr
    new = wait_for(lambda: trial(run_dir, 2), what="requeued trial")
    assert (new.origin, new.parent_id, new.from_checkpoint) == ("requeue", 1, True)
    first = wait_for(lambda: _points(run_dir, 2), what="requeued trial reporting")[0]
    assert first.step == new.clone_step + 1 and new.clone_step >= 3
    cli("stop", str(run_dir))


def test_a_reused_pid_is_never_signalled():
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                              start_new_session=True)
    try:
        real_start = process_start_time(victim.pid)
        # A handle recorded for an earlier process that had the same pid.
        stale = TrialHandle(1, victim.pid, real_start - 1000.0)
        ex = LocalExecutor()
        ex.kill(stale)
        ex.pause(stale)
        time.sleep(0.2)
        assert victim.poll() is None
        assert psutil.Process(victim.pid).status() != psutil.STATUS_STOPPED
        assert not ex.adopt(stale)
        ex.kill(TrialHandle(1, victim.pid, real_start))  # the right identity does work
        assert victim.wait(timeout=5) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()


def test_two_front_ends_act_at_once_and_see_the_same_state(tmp_path, tt_home):
    # Front ends and store are real; the trials need no process (fake ones).
    with live_fake_run(tmp_path, stepper(), tt_home, steps=300, concurrent=8) as run_dir:
        a, b = RunClient(run_dir, actor="alice"), RunClient(run_dir, actor="bob")
        replies = []

        def send(client, lr):
            c = RunClient(client.run_dir, actor=client.actor)  # one connection per thread
            replies.append(c.send("new", {"params": {"lr": lr}}))

        threads = [threading.Thread(target=send, args=(c, lr))
                   for c, lr in ((a, 0.01), (b, 0.02), (a, 0.03), (b, 0.04))]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert all(r.status == "done" for r in replies), replies
        assert sorted(t.params["lr"] for t in a.store.trials()) == [0.01, 0.02, 0.03, 0.04]
        assert [t.id for t in a.store.trials()] == [t.id for t in b.store.trials()]
        actors = {e.actor for e in b.store.events() if e.kind == "created"}
        assert actors == {"alice", "bob"}
