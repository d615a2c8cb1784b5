"""A run folder deleted under its live supervisor (issue 12.10): the supervisor notices,
launches nothing more, ends its trials, recreates nothing and exits saying why. And
nothing the engine creates is readable by others, whatever the user's umask."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.support.processes import start_headless
from tests.support.specs import write_spec
from tests.support.waiting import wait_for
from tuitune.core.spec import load_spec
from tuitune.engine.runs import create_run
from tuitune.store import RunStore

#: Writes a file of its own (the user's business: the user's umask applies), then reports.
OWN_FILE_TRIAL = """
import os, sys, time
import tuitune.in_trial.trial as tt
p = tt.params()
open(os.path.join(os.environ["TUITUNE_TRIAL_DIR"], "mine.txt"), "w").write("x")
for step in range(1, int(p["steps"]) + 1):
    tt.report(step, loss=1.0 / step)
    time.sleep(float(p["sleep"]))
"""


def _supervise(run_dir: Path) -> subprocess.Popen[str]:
    """The supervisor as `tuitune run` starts it (own session), its stderr kept here."""
    return subprocess.Popen([sys.executable, "-m", "tuitune.engine.supervisor", str(run_dir)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@pytest.mark.slow
def test_the_supervisor_ends_its_trials_and_exits_without_recreating_the_folder(
        tmp_path, tt_home):
    spec = write_spec(tmp_path / "exp", steps=2000, sleep=0.05, strategy="random",
                      concurrent=3, budget="max_trials = 20")
    run_dir = create_run(load_spec(spec))
    sup = _supervise(run_dir)
    try:
        def running() -> list:
            store = RunStore(run_dir)
            try:
                return [t for t in store.trials(["running"])
                        if len(store.metrics(trial_id=t.id)) > 4]
            finally:
                store.close()
        trials = wait_for(lambda: len(running()) == 3 and running(), timeout=30,
                          what="three trials reporting")
        procs = [p for t in trials for p in _tree(t.pid)]
        assert len(procs) >= 6  # a launcher and a training process per trial
        for _ in range(20):  # as `rm -rf` would, while trials still write into it
            shutil.rmtree(run_dir, ignore_errors=True)
            if not run_dir.exists():
                break
        sup.wait(timeout=30)
        err = sup.stderr.read()
        assert sup.returncode == 1, err
        assert f"the run folder {run_dir} was deleted" in err
        assert "Traceback" not in err
        gone, alive = psutil.wait_procs(procs, timeout=5)
        assert not alive, [p.pid for p in alive]  # every trial process ended
        time.sleep(1)  # a launcher or trial that would recreate it has had time to
        assert not run_dir.exists()
    finally:
        if sup.poll() is None:
            sup.kill()
            sup.wait()


@pytest.mark.slow
def test_a_headless_run_says_its_folder_was_deleted_and_leaves_nothing_running(
        tmp_path, tt_home):
    spec = write_spec(tmp_path / "exp", steps=2000, sleep=0.05, strategy="random",
                      concurrent=2, budget="max_trials = 20")
    proc, run_dir = start_headless(spec, tt_home)
    try:
        supervisor = psutil.Process(RunStore(run_dir).meta()["supervisor_pid"])
        wait_for(lambda: len(RunStore(run_dir).trials(["running"])) == 2, timeout=30,
                 what="two trials running")
        trials = [p for t in RunStore(run_dir).trials(["running"]) for p in _tree(t.pid)]
        for _ in range(20):
            shutil.rmtree(run_dir, ignore_errors=True)
            if not run_dir.exists():
                break
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 1, out
        assert f"ended: its run folder {run_dir} was deleted" in out
        assert "Traceback" not in out
        _, alive = psutil.wait_procs([supervisor, *trials], timeout=20)
        assert not alive, [p.pid for p in alive]
        assert not run_dir.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.slow
def test_what_the_engine_creates_is_owner_only_and_trials_keep_the_users_umask(
        tmp_path, tt_home):
    spec = write_spec(tmp_path / "exp", script=OWN_FILE_TRIAL, steps=5, sleep=0.01,
                      strategy="random", concurrent=1, budget="max_trials = 1")
    run_dir = create_run(load_spec(spec))
    old = os.umask(0o022)  # a user whose files are readable by others by default
    try:
        sup = _supervise(run_dir)
    finally:
        os.umask(old)
    try:
        assert sup.wait(timeout=60) == 0, sup.stderr.read()
    finally:
        if sup.poll() is None:
            sup.kill()
            sup.wait()
    store = RunStore(run_dir)
    try:
        assert [t.state for t in store.trials()] == ["completed"]
    finally:
        store.close()
    tdir = run_dir / "trials" / "1"

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)
    engine_made = [tdir, tdir / "log.txt", tdir / "exit.json"]
    assert {p.name: oct(mode(p)) for p in engine_made} == {
        "1": "0o700", "log.txt": "0o600", "exit.json": "0o600"}
    assert oct(mode(tdir / "mine.txt")) == "0o644"  # the trial's own file: the user's umask


def test_a_folder_deleted_before_the_follower_opens_it_ends_the_same_way(tmp_path):
    """The headless front end opens the store after the supervisor started: a folder
    deleted in that moment made it exit 2 with 'no tuitune run store' (seen once in a
    full suite run) instead of saying the folder was deleted, with status 1."""
    from tuitune.engine.follow import EXIT_SUPERVISOR_GONE, follow

    run_dir = create_run(load_spec(write_spec(tmp_path / "exp")), tmp_path / "runs")
    shutil.rmtree(run_dir)
    lines: list[str] = []
    outcome = follow(run_dir, lines.append, poll=0.01)
    assert not outcome.finished and outcome.exit_status == EXIT_SUPERVISOR_GONE
    assert outcome.reason == f"its run folder {run_dir} was deleted" and lines == []
