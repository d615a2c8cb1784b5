"""A run without a live supervisor (finished, or its supervisor killed) can still be
steered: any action starts a supervisor, and `stop` ends its trials. The hand-off
budget is `--more N` from now, or a total that must exceed what has run.

Real supervisor processes, real trial processes, the real CLI.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys

import psutil
import pytest

from tests.support.processes import cli, kill_supervisor, start_headless
from tests.support.specs import write_spec
from tests.support.store_reads import read, trial
from tests.support.waiting import wait_for
from tuitune.engine.supervisor import Supervisor
from tuitune.executors.local import process_start_time

pytestmark = pytest.mark.slow


def _finished(run_dir) -> bool:
    return read(run_dir, lambda s: s.meta().get("state")) == "finished"


def _states(run_dir) -> dict[int, str]:
    return read(run_dir, lambda s: {t.id: t.state for t in s.trials()})


def _ok(*args: str) -> str:
    out = cli(*args)
    assert out.returncode == 0, (args, out.stdout, out.stderr)
    return out.stdout


def test_a_finished_run_takes_new_trials_clones_and_more_budget(tmp_path, tt_home):
    spec = write_spec(tmp_path / "exp", steps=8, sleep=0.05, strategy="random",
                      concurrent=2, budget="max_trials = 2")
    proc, run_dir = start_headless(spec, tt_home)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out  # the follower's "finished"
    assert _finished(run_dir) and _states(run_dir) == {1: "completed", 2: "completed"}
    run = str(run_dir)

    assert "trial 3 queued" in _ok("new", run, "lr=0.05")
    wait_for(lambda: _states(run_dir).get(3) == "completed", 60, "the new trial to complete")
    assert "trial 4 cloned from trial 1" in _ok("clone", run, "1", "--set", "lr=0.2")
    wait_for(lambda: _states(run_dir).get(4) == "completed", 60, "the clone to complete")
    assert trial(run_dir, 4).params["lr"] == 0.2
    wait_for(lambda: _finished(run_dir), 30, "the run to finish again")

    # A total that is not above what has run is refused, in one line; nothing changes.
    refused = cli("handoff", run, "random", "--max-trials", "3")
    assert refused.returncode == 2
    assert refused.stderr.strip() == ("tuitune: error: a total of 3 trials is not above the 4 "
                                      "this run has had; use --more N for N more trials")
    assert read(run_dir, lambda s: (s.meta()["max_trials"], s.pending_commands())) == (2, [])

    _ok("handoff", run, "random", "--more", "2")  # 2 more from now: trials 5 and 6
    wait_for(lambda: _finished(run_dir) and len(_states(run_dir)) == 6, 90,
             "two more searched trials and the run finished again")
    assert set(_states(run_dir).values()) == {"completed"}
    assert read(run_dir, lambda s: s.meta()["max_trials"]) == 6
    assert [trial(run_dir, t).origin for t in (5, 6)] == ["random", "random"]
    assert read(run_dir, lambda s: s.meta().get("supervisor_pid")) is None


def test_handoff_total_above_what_has_run_is_taken(tmp_path, tt_home):
    spec = write_spec(tmp_path / "exp", steps=8, sleep=0.05, strategy="random",
                      concurrent=2, budget="max_trials = 2")
    proc, run_dir = start_headless(spec, tt_home)
    assert proc.wait(timeout=90) == 0
    _ok("handoff", str(run_dir), "random", "--max-trials", "3")
    wait_for(lambda: _finished(run_dir) and len(_states(run_dir)) == 3, 90, "one more trial")
    assert read(run_dir, lambda s: s.meta()["max_trials"]) == 3


def test_stop_ends_the_trials_of_a_run_whose_supervisor_died(tmp_path, tt_home):
    spec = write_spec(tmp_path / "exp", steps=5000, sleep=0.05)
    proc, run_dir = start_headless(spec, tt_home)
    victim = None
    try:
        for lr in ("0.01", "0.02", "0.03"):
            _ok("new", str(run_dir), f"lr={lr}")
        wait_for(lambda: list(_states(run_dir).values()) == ["running"] * 3, what="3 running")
        kill_supervisor(run_dir)
        proc.wait(timeout=30)
        live = [trial(run_dir, t) for t in (1, 2)]
        # Trial 3 dies unseen and its pid now names another process: a reused pid.
        t3 = trial(run_dir, 3)
        os.killpg(t3.pid, signal.SIGKILL)
        wait_for(lambda: not psutil.pid_exists(t3.pid) or
                 psutil.Process(t3.pid).status() == psutil.STATUS_ZOMBIE, what="trial 3 dead")
        victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                                  start_new_session=True)
        assert process_start_time(victim.pid) != t3.pid_start
        read(run_dir, lambda s: s.update_trial(3, pid=victim.pid))

        out = cli("stop", str(run_dir))
        assert out.returncode == 0, out.stderr
        wait_for(lambda: _finished(run_dir), 60, "the run to be stopped")
        for t in live:  # ended by their recorded identities
            assert not psutil.pid_exists(t.pid) or (
                psutil.Process(t.pid).status() == psutil.STATUS_ZOMBIE)
        assert _states(run_dir) == {1: "killed", 2: "killed", 3: "lost"}
        assert victim.poll() is None  # a reused pid is never signalled
        assert read(run_dir, lambda s: s.meta()["finished_reason"]) == "stopped"
    finally:
        if victim is not None:
            victim.kill()
            victim.wait()


def test_a_supervisor_does_not_finish_while_a_command_waits(tmp_path, tt_home):
    """A command sent just as the budget runs out is carried out, not left behind."""
    spec = write_spec(tmp_path / "exp", steps=3, sleep=0.01, strategy="random",
                      budget="max_trials = 1")
    proc, run_dir = start_headless(spec, tt_home)
    assert proc.wait(timeout=60) == 0
    sup = Supervisor(run_dir)
    try:
        sup.store.enqueue_command("new", {"params": {"lr": 0.05, "units": 8, "steps": 3,
                                                     "sleep": 0.01}}, "user")
        sup._check_finished()  # the budget is used and nothing runs, but a command waits
        assert sup.finished is None
    finally:
        sup.executor.close()
        sup.store.close()


def test_a_handoff_total_not_above_what_has_run_is_refused_on_a_live_run(tmp_path, tt_home):
    spec = write_spec(tmp_path / "exp", steps=5000, sleep=0.05)
    proc, run_dir = start_headless(spec, tt_home)
    try:
        for lr in ("0.01", "0.02"):
            _ok("new", str(run_dir), f"lr={lr}")
        refused = cli("handoff", str(run_dir), "random", "--max-trials", "2")
        assert refused.returncode == 2
        assert refused.stderr.strip() == ("tuitune: error: a total of 2 trials is not above "
                                          "the 2 this run has had; use --more N for N more "
                                          "trials")
        assert read(run_dir, lambda s: (s.meta()["strategy"], s.meta().get("max_trials"))) == (
            "manual", None)
        _ok("handoff", str(run_dir), "manual", "--more", "1")  # 2 had + 1 more
        assert read(run_dir, lambda s: s.meta()["max_trials"]) == 3
    finally:
        cli("stop", str(run_dir))
        proc.wait(timeout=30)


def test_stop_on_a_finished_run_changes_nothing(tmp_path, tt_home):
    spec = write_spec(tmp_path / "exp", steps=3, sleep=0.01, strategy="random",
                      budget="max_trials = 1")
    proc, run_dir = start_headless(spec, tt_home)
    assert proc.wait(timeout=60) == 0
    before = read(run_dir, lambda s: (s.meta(), s.events()))
    out = cli("stop", str(run_dir))
    assert out.returncode == 0
    assert out.stdout.strip() == f"run {run_dir.name} has already finished (budget used)"
    assert read(run_dir, lambda s: (s.meta(), s.events())) == before


def test_a_hand_action_on_a_stopped_manual_run_does_not_bring_it_back_for_good(tmp_path,
                                                                                tt_home):
    """A note or a new trial on a stopped run is carried out; then the run is finished
    again, not live forever as a manual run's supervisor would be."""
    spec = write_spec(tmp_path / "exp", steps=10, sleep=0.05)
    proc, run_dir = start_headless(spec, tt_home)
    _ok("new", str(run_dir), "lr=0.02")
    wait_for(lambda: _states(run_dir).get(1) == "running", what="trial 1 running")
    _ok("stop", str(run_dir))
    assert proc.wait(timeout=60) == 3  # stopped
    assert "note saved" in _ok("note", str(run_dir), "1", "looked at it")
    wait_for(lambda: _finished(run_dir) and not read(
        run_dir, lambda s: s.meta().get("supervisor_pid")), 30, "the run finished again")
    assert trial(run_dir, 1).note == "looked at it"
    assert "trial 2 queued" in _ok("new", str(run_dir), "lr=0.03")
    wait_for(lambda: _finished(run_dir) and _states(run_dir).get(2) == "completed", 60,
             "trial 2 to complete and the run to finish again")
    assert read(run_dir, lambda s: s.meta()["finished_reason"]) == "stopped"


def _took_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def test_a_command_no_supervisor_can_carry_out_is_withdrawn(tmp_path, tt_home):
    """A stuck process holds the run's supervisor lock: every supervisor started for it
    gives up. The command is refused and withdrawn, so it never fires later."""
    spec = write_spec(tmp_path / "exp", steps=3, sleep=0.01, strategy="random",
                      budget="max_trials = 1")
    proc, run_dir = start_headless(spec, tt_home)
    assert proc.wait(timeout=60) == 0
    fd = os.open(run_dir / "supervisor.lock", os.O_RDWR)
    try:
        # The headless follower exits once it reads that the run finished; the
        # detached supervisor may still be on its way out, holding the lock.
        wait_for(lambda: _took_lock(fd), 30, "the finished supervisor to let go of its lock")
        out = cli("new", str(run_dir), "lr=0.05", timeout=120)
        assert out.returncode == 1
        assert "no supervisor could be started for this run" in out.stderr
        assert "nothing was done" in out.stderr
    finally:
        os.close(fd)
    assert read(run_dir, lambda s: s.pending_commands()) == []
    assert "note saved" in _ok("note", str(run_dir), "1", "later")  # a supervisor starts now
    wait_for(lambda: _finished(run_dir) and not read(
        run_dir, lambda s: s.meta().get("supervisor_pid")), 30, "the run finished again")
    assert sorted(_states(run_dir)) == [1]  # the withdrawn `new` never fired


def test_a_run_that_finishes_again_in_manual_mode_says_why_now(tmp_path, tt_home):
    """Seen in tmux: a run that had used its budget, handed to manual mode with room
    for more trials, finished again "budget used" though the budget had room."""
    spec = write_spec(tmp_path / "exp", steps=3, sleep=0.01, strategy="random",
                      budget="max_trials = 1")
    proc, run_dir = start_headless(spec, tt_home)
    assert proc.wait(timeout=60) == 0
    assert read(run_dir, lambda s: s.meta()["finished_reason"]) == "budget used"
    _ok("handoff", str(run_dir), "manual", "--more", "5")
    wait_for(lambda: _finished(run_dir) and not read(
        run_dir, lambda s: s.meta().get("supervisor_pid")), 30, "the run finished again")
    reason = read(run_dir, lambda s: s.meta()["finished_reason"])
    assert reason != "budget used" and "manual" in reason, reason
    finished = [e.message for e in read(run_dir, lambda s: s.events()) if e.kind == "finished"]
    assert finished[-1] == f"experiment finished: {reason}"
