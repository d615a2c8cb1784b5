"""A full disk loses nothing (issue 12.11), tested on a real one: the run lives on a
small tmpfs that is filled to the last byte while trials report, then freed.

Each trial logs how many points it reported to a file outside the tmpfs; at the end
the store must hold exactly that many for every trial, every trial must be recorded
completed (its exit status was not lost), and the supervisor must have survived and
recorded why it finished.
"""

from __future__ import annotations

import json
import time

import psutil
import pytest

from tuitune.store import RunStore

from .full_disk_drill import Drill, fill, mount_tmpfs, start, unmount
from .helpers import wait_for

TRIALS = 3


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """TUITUNE_HOME on an 8 MB tmpfs; unmounted (after its processes end) at the end."""
    mnt = tmp_path / "disk"
    why_not = mount_tmpfs(mnt, "8m")
    if why_not:
        pytest.skip(why_not)
    monkeypatch.setenv("TUITUNE_HOME", str(mnt))
    try:
        yield mnt
    finally:
        unmount(mnt)


def _check_the_end(drill: Drill) -> None:
    wait_for(drill.supervisor_gone, timeout=40, what="the supervisor to finish")
    store = RunStore(drill.run_dir)
    try:
        meta = store.meta()
        trials = store.trials()
        kinds = [e.kind for e in store.events()]
    finally:
        store.close()
    assert meta.get("finished_reason") == "budget used", (meta.get("state"), kinds)
    assert meta.get("state") == "finished"
    assert [(t.id, t.state) for t in trials] == [(i, "completed") for i in range(1, TRIALS + 1)]
    reported = drill.reported()
    assert sorted(reported) == list(range(1, TRIALS + 1))
    assert drill.stored() == reported  # 0 points lost, none stored twice
    assert "store_unwritable" in kinds  # the supervisor recorded the outage once


@pytest.mark.slow
def test_space_returning_before_the_trials_end_loses_nothing(tmp_path, small_disk):
    drill = start(tmp_path, TRIALS, steps=1500)
    wait_for(lambda: drill.reporting(40), timeout=30, what="the trials reporting")
    filler = fill(small_disk)
    time.sleep(1)
    at_full = drill.stored()
    time.sleep(3)
    assert drill.stored() == at_full  # the fault is real: nothing reaches the store
    filler.unlink()
    # Points reach the store as soon as space returns, while the trials still report.
    wait_for(lambda: all(v > at_full[t] + 200 for t, v in drill.stored().items()),
             timeout=5, what="points written after space returned")
    assert all(n < 3000 for n in drill.reported().values())
    _check_the_end(drill)


@pytest.mark.slow
def test_trials_that_end_while_the_disk_is_full_lose_nothing(tmp_path, small_disk):
    drill = start(tmp_path, TRIALS, steps=200)
    wait_for(lambda: drill.reporting(20), timeout=30, what="the trials reporting")
    filler = fill(small_disk)
    # Every trial ends while the disk is still full.
    wait_for(lambda: len(drill.reported()) == TRIALS
             and all(v == 400 for v in drill.reported().values()),
             timeout=30, what="the trials to report their last point")
    time.sleep(3)
    filler.unlink()
    _check_the_end(drill)


@pytest.mark.slow
def test_trials_that_exit_while_the_disk_is_full_are_recorded_completed(tmp_path, small_disk):
    """Their points are all stored; what the full disk refuses is the launcher's record
    of how they ended, which must not turn a completed trial into a failed or lost one."""
    drill = start(tmp_path, TRIALS, steps=100, linger=2)
    wait_for(lambda: drill.stored() == {t: 200 for t in range(1, TRIALS + 1)}, timeout=30,
             what="every point stored")
    filler = fill(small_disk)
    wait_for(lambda: _training_exited(drill), timeout=20, what="the training processes to exit")
    time.sleep(1)
    filler.unlink()
    _check_the_end(drill)
    for tid in range(1, TRIALS + 1):
        exit_file = drill.run_dir / "trials" / str(tid) / "exit.json"
        assert json.loads(exit_file.read_text())["code"] == 0


def _training_exited(drill: Drill) -> bool:
    """True once no trial's launcher has a child left (a launcher gone counts too)."""
    store = RunStore(drill.run_dir)
    try:
        pids = [t.pid for t in store.trials()]
    finally:
        store.close()
    for pid in pids:
        try:
            if psutil.Process(pid).children():
                return False
        except psutil.NoSuchProcess:
            continue
    return True
