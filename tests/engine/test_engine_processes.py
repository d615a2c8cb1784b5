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

from tuitune.store import RunStore

from .escape_drill import repeat
from .test_engine_stdout import supervised
from .helpers import wait_for


def test_exit_file_is_owner_only_whatever_the_umask(tmp_path):
    exit_file = tmp_path / "exit.json"
    subprocess.run([sys.executable, "-m", "tuitune.executors.launcher", str(exit_file), "--",
                    sys.executable, "-c", "pass"], check=True, timeout=60,
                   preexec_fn=lambda: os.umask(0))
    assert stat.S_IMODE(exit_file.stat().st_mode) == 0o600


REPORTER = """
import time
import tuitune.trial as tt
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


@pytest.mark.slow
def test_daemons_born_just_before_kill_or_stop_do_not_escape(tmp_path, tt_home):
    reps = repeat(tmp_path, tt_home, repetitions=4, seed=12)
    assert {(r.action, r.ignores_term) for r in reps} == {
        ("kill", False), ("kill", True), ("stop", False), ("stop", True)}
    escaped = [(r.action, r.ignores_term, round(r.daemon_delay, 3), r.survivors) for r in reps
               if r.survivors]
    assert escaped == []
