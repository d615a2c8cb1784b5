"""`tuitune run --headless` is a follower of a detached supervisor: stopping the
follower (Ctrl-C, a closed pipe) leaves the run going, and it exits with the run's
outcome. Real processes, real signals, real pipes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil
import pytest

from tests.support.processes import cli, start_headless
from tests.support.specs import write_spec
from tests.support.store_reads import read
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow


def _meta(run_dir):
    return read(run_dir, lambda s: s.meta())


def _states(run_dir):
    return read(run_dir, lambda s: {t.id: t.state for t in s.trials()})


def _supervisor_alive(run_dir) -> bool:
    pid = _meta(run_dir).get("supervisor_pid")
    return bool(pid) and psutil.pid_exists(pid) and (
        psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)


def test_ctrl_c_stops_the_follower_and_the_run_finishes_by_itself(tmp_path, tt_home):
    spec = write_spec(tmp_path / "exp", steps=30, sleep=0.05, strategy="random",
                      concurrent=2, budget="max_trials = 4")
    proc, run_dir = start_headless(spec, tt_home)
    try:
        wait_for(lambda: "running" in _states(run_dir).values(), what="a trial running")
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends to the follower
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 130, out
        # stderr is merged in: a warning the CLI printed may come after the hint.
        assert any(f"tuitune follow {run_dir.name}" in line and "the run goes on" in line
                   for line in out.strip().splitlines()), out
        assert _supervisor_alive(run_dir)
        wait_for(lambda: _meta(run_dir).get("state") == "finished", timeout=90,
                 what="the run to finish without its follower")
        assert _states(run_dir) == {1: "completed", 2: "completed", 3: "completed",
                                    4: "completed"}
        again = cli("follow", str(run_dir))  # following a finished run: its outcome
        assert again.returncode == 0, again.stderr
        assert "finished: budget used" in again.stdout and "best loss" in again.stdout
    finally:
        cli("stop", str(run_dir))


def test_a_follower_whose_reader_is_gone_exits_quietly_and_the_run_goes_on(tmp_path, tt_home):
    """`tuitune run SPEC --headless | tee log`, and tee is killed."""
    spec = write_spec(tmp_path / "exp", steps=5000, sleep=0.05)
    proc = subprocess.Popen([sys.executable, "-m", "tuitune", "run", str(spec),
                             "--headless"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=os.environ.copy())
    run_dir = None
    try:
        run_dir = wait_for(lambda: next((tt_home / "runs").iterdir()), what="the run")
        wait_for(lambda: _supervisor_alive(run_dir), what="the supervisor")
        proc.stdout.close()  # the reader goes away
        assert cli("new", str(run_dir), "lr=0.02").returncode == 0  # events to print
        assert proc.wait(timeout=30) == 141
        said = proc.stderr.read().decode().splitlines()  # no traceback, no "Exception ignored"
        assert all(line.startswith("tuitune: warning: lr, units") for line in said), said
        assert _supervisor_alive(run_dir)
        wait_for(lambda: _states(run_dir).get(1) == "running", what="the new trial running")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
        if run_dir is not None:
            cli("stop", str(run_dir))


def test_a_manual_headless_run_says_once_how_to_add_trials(tmp_path, tt_home):
    spec = write_spec(tmp_path / "exp", steps=5000, sleep=0.05)
    proc, run_dir = start_headless(spec, tt_home)
    try:
        assert cli("new", str(run_dir), "lr=0.02").returncode == 0
        wait_for(lambda: _states(run_dir).get(1) == "running", what="trial 1 running")
    finally:
        cli("stop", str(run_dir))
        out, _ = proc.communicate(timeout=30)
    hints = [line for line in out.splitlines() if line.startswith("manual run")]
    assert len(hints) == 1, out
    assert f"tuitune new {run_dir.name}" in hints[0]
    assert f"tuitune handoff {run_dir.name}" in hints[0]
