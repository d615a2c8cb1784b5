"""Helpers for engine tests: write specs and scripts, drive the CLI, wait for state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from tuitune.engine.runs import create_run
from tuitune.core.spec import load_spec
from tuitune.store import RunStore

#: A trial script using the in-trial API: reports `loss` and `lr` each step,
#: applies tweaks, saves a checkpoint each step, prints "step N", honours stop
#: requests. The Ray tests run it on their nodes too.
STEPPER = """
import os, sys, time
import tuitune.in_trial.trial as tt
p = tt.params()
lr = float(p.get("lr", 0.1))
steps = int(p.get("steps", 40))
start = tt.initial_step()
if tt.initial_checkpoint() is not None:
    print("resumed from", tt.initial_checkpoint().read_text(), flush=True)
for step in range(start + 1, steps + 1):
    lr = float(tt.apply_tweaks(step).get("lr", lr))
    tt.report(step, loss=1.0 / (step * lr + 1.0), lr=lr)
    ckpt = tt.checkpoint_dir() / f"ckpt-{step}.txt"  # a new file per step, written whole
    ckpt.with_suffix(".tmp").write_text(str(step))
    ckpt.with_suffix(".tmp").replace(ckpt)
    tt.checkpoint_saved(ckpt, step)
    print("step", step, flush=True)
    if tt.should_stop():
        break
    time.sleep(float(p.get("sleep", 0.1)))
"""

SPEC = """
name = "{name}"
command = ["{{python}}", "{script}"]
kill_grace = 2

[space.lr]
type = "float"
low = 0.0001
high = 1.0
log = true
mutable = true
default = 0.1

[space.units]
type = "int"
low = 1
high = 64
default = 8

[space.steps]
type = "fixed"
value = {steps}

[space.sleep]
type = "fixed"
value = {sleep}

[objective]
metric = "loss"
mode = "min"

[budget]
max_concurrent = {concurrent}
{budget}

[search]
strategy = "{strategy}"
"""


def write_spec(folder: Path, script: str = STEPPER, name: str = "t", steps: int = 40,
               sleep: float = 0.1, strategy: str = "manual", concurrent: int = 4,
               budget: str = "", extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "script.py").write_text(textwrap.dedent(script))
    spec = folder / f"{name}.toml"
    spec.write_text(SPEC.format(name=name, script="script.py", steps=steps, sleep=sleep,
                                strategy=strategy, concurrent=concurrent, budget=budget)
                    + extra)
    return spec


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `tuitune ARGS` as a user would, from a second shell."""
    return subprocess.run([sys.executable, "-m", "tuitune", *args], capture_output=True,
                          text=True, timeout=timeout, env=os.environ.copy())


def start_headless(spec: Path, home: Path) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen([sys.executable, "-m", "tuitune", "run", str(spec), "--headless"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=os.environ.copy())
    run_dir = wait_for(lambda: _single_run(home), timeout=20, what="the run folder")
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


def _single_run(home: Path) -> Path | None:
    runs = home / "runs"
    found = [p for p in runs.iterdir() if (p / "store.db").exists()] if runs.exists() else []
    return found[0] if found else None


def wait_for(predicate: Callable[[], Any], timeout: float = 20, what: str = "condition",
             interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def read(run_dir: Path, fn: Callable[[RunStore], Any]) -> Any:
    """`fn(store)` on a connection of the test's own, closed after."""
    store = RunStore(run_dir)
    try:
        return fn(store)
    finally:
        store.close()


def trial(run_dir: Path, trial_id: int):
    store = RunStore(run_dir)
    try:
        return store.trial(trial_id)
    finally:
        store.close()


def events(run_dir: Path) -> list:
    store = RunStore(run_dir)
    try:
        return store.events()
    finally:
        store.close()


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
