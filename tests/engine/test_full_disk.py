"""A full disk loses nothing (issue 12.11), tested on a real one: the run lives on a
small tmpfs that is filled to the last byte while trials report, then freed.

Each trial logs how many points it reported to a file outside the tmpfs; at the end
the store must hold exactly that many for every trial, every trial must be recorded
completed (its exit status was not lost), and the supervisor must have survived and
recorded why it finished.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tuitune.engine.runs import create_run, spawn_supervisor
from tuitune.spec import load_spec
from tuitune.store import RunStore

from .helpers import wait_for

#: Reports two metrics per step; writes its own count of reported points outside the
#: run's disk after every 20 steps and at the end.
COUNTING_TRIAL = """
import os, time
import tuitune.trial as tt
p = tt.params()
steps, sleep = int(p["steps"]), float(p["sleep"])
count_file = os.path.join(p["count_dir"], os.environ["TUITUNE_TRIAL_ID"])
sent = 0
def note():
    with open(count_file + ".tmp", "w") as fh:
        fh.write(str(sent))
    os.replace(count_file + ".tmp", count_file)
for step in range(1, steps + 1):
    tt.report(step, loss=1.0 / step, acc=step / steps)
    sent += 2
    if step % 20 == 0:
        note()
    time.sleep(sleep)
note()
"""

SPEC = """
name = "full"
command = ["{{python}}", "{script}"]
kill_grace = 2

[space.x]
type = "float"
low = 0.0
high = 1.0

[space.steps]
type = "fixed"
value = {steps}

[space.sleep]
type = "fixed"
value = 0.01

[space.count_dir]
type = "fixed"
value = "{count_dir}"

[objective]
metric = "loss"
mode = "min"

[budget]
max_concurrent = {trials}
max_trials = {trials}

[search]
strategy = "random"
"""

TRIALS = 3


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """TUITUNE_HOME on an 8 MB tmpfs; unmounted (after its processes end) at the end."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs",
                           str(mnt)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root): {done.stderr.strip()}")
    monkeypatch.setenv("TUITUNE_HOME", str(mnt))
    try:
        yield mnt
    finally:
        _kill_processes_using(mnt)
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _kill_processes_using(home: Path) -> None:
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get("TUITUNE_HOME") == str(home):
                proc.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue


def _fill(mnt: Path) -> Path:
    """Write a filler file until the disk refuses another byte."""
    filler = mnt / "filler"
    chunk = b"\0" * 65536
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):
            while True:
                try:
                    os.write(fd, chunk[:size])
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    finally:
        os.close(fd)
    return filler


def _start(tmp_path: Path, steps: int) -> tuple[Path, int, Path]:
    counts = tmp_path / "counts"
    counts.mkdir()
    script = tmp_path / "count.py"
    script.write_text(COUNTING_TRIAL)
    spec_path = tmp_path / "full.toml"
    spec_path.write_text(SPEC.format(script=script, steps=steps, count_dir=counts,
                                     trials=TRIALS))
    run_dir = create_run(load_spec(spec_path))
    return run_dir, spawn_supervisor(run_dir), counts


def _stored(run_dir: Path) -> dict[int, int]:
    store = RunStore(run_dir)
    try:
        return {t.id: len(store.metrics(trial_id=t.id)) for t in store.trials()}
    finally:
        store.close()


def _reported(counts: Path) -> dict[int, int]:
    return {int(f.name): int(f.read_text()) for f in counts.iterdir()
            if not f.name.endswith(".tmp")}


def _reporting(run_dir: Path, n: int) -> bool:
    stored = _stored(run_dir)
    return len(stored) == TRIALS and all(v >= n for v in stored.values())


def _check_the_end(run_dir: Path, supervisor: int, counts: Path) -> None:
    wait_for(lambda: not psutil.pid_exists(supervisor)
             or psutil.Process(supervisor).status() == psutil.STATUS_ZOMBIE,
             timeout=40, what="the supervisor to finish")
    store = RunStore(run_dir)
    try:
        meta = store.meta()
        trials = store.trials()
        kinds = [e.kind for e in store.events()]
    finally:
        store.close()
    assert meta.get("finished_reason") == "budget used", (meta.get("state"), kinds)
    assert meta.get("state") == "finished"
    assert [(t.id, t.state) for t in trials] == [(i, "completed") for i in range(1, TRIALS + 1)]
    reported = _reported(counts)
    assert sorted(reported) == list(range(1, TRIALS + 1))
    assert _stored(run_dir) == reported  # 0 points lost, none stored twice
    assert "store_unwritable" in kinds  # the supervisor recorded the outage once


@pytest.mark.slow
def test_space_returning_before_the_trials_end_loses_nothing(tmp_path, small_disk):
    run_dir, supervisor, counts = _start(tmp_path, steps=1500)
    wait_for(lambda: _reporting(run_dir, 40), timeout=30, what="the trials reporting")
    filler = _fill(small_disk)
    time.sleep(1)
    at_full = _stored(run_dir)
    time.sleep(3)
    assert _stored(run_dir) == at_full  # the fault is real: nothing reaches the store
    filler.unlink()
    # Points reach the store as soon as space returns, while the trials still report.
    wait_for(lambda: all(v > at_full[t] + 200 for t, v in _stored(run_dir).items()),
             timeout=5, what="points written after space returned")
    assert all(n < 3000 for n in _reported(counts).values())
    _check_the_end(run_dir, supervisor, counts)


@pytest.mark.slow
def test_trials_that_end_while_the_disk_is_full_lose_nothing(tmp_path, small_disk):
    run_dir, supervisor, counts = _start(tmp_path, steps=200)
    wait_for(lambda: _reporting(run_dir, 20), timeout=30, what="the trials reporting")
    filler = _fill(small_disk)
    # Every trial ends while the disk is still full.
    wait_for(lambda: len(_reported(counts)) == TRIALS
             and all(v == 400 for v in _reported(counts).values()),
             timeout=30, what="the trials to report their last point")
    time.sleep(3)
    filler.unlink()
    _check_the_end(run_dir, supervisor, counts)
