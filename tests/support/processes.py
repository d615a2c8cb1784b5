"""Real processes: the CLI as a user runs it, a headless run, a supervisor process,
and SIGKILL for one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from tests.support.cli_process import run_forked
from tests.support.specs import write_spec
from tests.support.waiting import wait_for
from tuitune.core.spec import load_spec
from tuitune.engine.runs import create_run
from tuitune.store import RunStore


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `tuitune ARGS` as a user would, from a second shell: a process of its own
    with this process's environment, forked from one that has imported the CLI
    (`cli_process`), so a call costs no interpreter start."""
    return run_forked(list(args), timeout)


def start_headless(spec: Path, home: Path) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen([sys.executable, "-m", "tuitune", "run", str(spec), "--headless"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=os.environ.copy())
    run_dir = wait_for(lambda: single_run(home), timeout=20, what="the run folder")
    wait_for(lambda: RunStore(run_dir).meta().get("supervisor_pid"), 20, "the supervisor")
    return proc, run_dir


def stop_headless(proc: subprocess.Popen[str], run_dir: Path) -> None:
    """`tuitune stop` the run, then make sure its headless follower is gone."""
    cli("stop", str(run_dir))
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def kill_supervisor(run_dir: Path) -> int:
    """SIGKILL the run's supervisor (the detached process the store names); its pid."""
    store = RunStore(run_dir)
    try:
        pid = store.meta()["supervisor_pid"]
    finally:
        store.close()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not psutil.pid_exists(pid) or
             psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, what="the supervisor dead")
    return pid


def single_run(home: Path) -> Path | None:
    runs = home / "runs"
    found = [p for p in runs.iterdir() if (p / "store.db").exists()] if runs.exists() else []
    return found[0] if found else None



@contextmanager
def supervised(tmp_path: Path, home: Path, script: str, trials: int = 1
               ) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """A run of `trials` trials of `script` under a real supervisor process."""
    spec = write_spec(tmp_path / "exp", script=script, strategy="random",
                      budget=f"max_trials = {trials}", concurrent=trials)
    run_dir = create_run(load_spec(spec), home / "runs")
    proc = subprocess.Popen([sys.executable, "-m", "tuitune.engine.supervisor", str(run_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        yield run_dir, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
