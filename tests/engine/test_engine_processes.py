"""Every process of a trial ends with it: a killed launcher takes its trainer along,
daemons that left the process group are ended, and the exit file is owner-only."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys

import psutil
import pytest

from tests.support.processes import cli, supervised
from tests.support.waiting import wait_for
from tuitune.engine.runs import trial_dir
from tuitune.store import RunStore

from .escape_drill import repeat


def test_exit_file_is_owner_only_whatever_the_umask(tmp_path):
    exit_file = tmp_path / "exit.json"
    subprocess.run([sys.executable, "-m", "tuitune.executors.launcher", str(exit_file), "--",
                    sys.executable, "-c", "pass"], check=True, timeout=60,
                   preexec_fn=lambda: os.umask(0))
    assert stat.S_IMODE(exit_file.stat().st_mode) == 0o600


REPORTER = """
import time
import tuitune.in_trial.trial as tt
for step in range(1, 100000):
    tt.report(step, loss=1.0 / step)
    time.sleep(0.05)
"""


@pytest.mark.slow
def test_a_killed_launcher_takes_its_trainer_along_and_says_so(tmp_path, tt_home):
    with supervised(tmp_path, tt_home, REPORTER) as (run_dir, _):
        store = RunStore(run_dir)
        wait_for(lambda: store.count_metrics() >= 5, 60, "the trial's first points")
        launcher = psutil.Process(store.trial(1).pid)
        trainer = launcher.children()[0]
        launcher.send_signal(signal.SIGKILL)
        wait_for(lambda: store.trial(1).state == "failed", 30, "the trial recorded failed")
        wait_for(lambda: not trainer.is_running() or trainer.status() == psutil.STATUS_ZOMBIE,
                 10, "the trainer to end")
        ended = [e.message for e in store.events() if e.trial_id == 1 and e.kind == "failed"]
        assert ended and "its launcher was killed (signal 9)" in ended[-1], ended
        assert "the training process was ended" in ended[-1]
        points = store.count_metrics()
        wait_for(lambda: store.meta(["state"]).get("state") == "finished", 30, "the run's end")
        assert store.count_metrics() == points  # nothing written after the failure


def _cgroups_usable(tmp_path) -> bool:
    from tuitune.executors import cgroup

    group = cgroup.create(tmp_path)
    if group is None:
        return False
    cgroup.remove(tmp_path)
    return True


@pytest.mark.slow
@pytest.mark.parametrize("cgroups", ["1", "0"])
def test_daemons_born_just_before_kill_or_stop_do_not_escape(tmp_path, tt_home, monkeypatch,
                                                            cgroups):
    if cgroups == "1" and not _cgroups_usable(tmp_path):
        pytest.skip("no writable cgroup v2 hierarchy here; the /proc sweep is tested alone")
    monkeypatch.setenv("TUITUNE_CGROUPS", cgroups)
    # Born at most 0.1 s before the end: the moments the 2 s record of trees misses.
    reps = repeat(tmp_path, tt_home, repetitions=4, seed=12, latest_birth=0.1)
    assert {(r.action, r.ignores_term) for r in reps} == {
        ("kill", False), ("kill", True), ("stop", False), ("stop", True)}
    escaped = [(r.action, r.ignores_term, round(r.daemon_delay, 3), r.survivors) for r in reps
               if r.survivors]
    assert escaped == []


SLEEPER = """
import os, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
open(os.path.join(os.environ["TUITUNE_TRIAL_DIR"], "ready"), "w").close()
time.sleep(600)
"""


@pytest.mark.slow
def test_a_trial_runs_in_its_own_cgroup_which_goes_with_it(tmp_path, tt_home):
    if not _cgroups_usable(tmp_path):
        pytest.skip("no writable cgroup v2 hierarchy here")
    from tuitune.executors import cgroup

    with supervised(tmp_path, tt_home, SLEEPER) as (run_dir, _):
        folder = trial_dir(run_dir, 1)
        wait_for(lambda: (folder / "ready").exists(), 60, "the trial")
        group = cgroup.recorded(folder)
        launcher = RunStore(run_dir).trial(1).pid
        tree = {launcher, *(p.pid for p in psutil.Process(launcher).children(recursive=True))}
        assert len(tree) == 3 and cgroup.members(group) == tree
        assert cli("kill", run_dir.name, "1").returncode == 0
        wait_for(lambda: RunStore(run_dir).trial(1).state == "killed", 30, "the kill")
        wait_for(lambda: not group.exists(), 10, "the trial's cgroup to be removed")
        assert not [p for p in tree if psutil.pid_exists(p)
                    and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
