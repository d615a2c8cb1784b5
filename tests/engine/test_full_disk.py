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

from tests.support.specs import write_spec
from tests.support.waiting import wait_for
from tuitune.core.spec import load_spec
from tuitune.engine.runs import create_run
from tuitune.engine.supervisor import Supervisor
from tuitune.store import RunStore, StoreError

from .full_disk_drill import Drill, fill, mount_tmpfs, start, unmount

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


def test_a_start_the_store_refuses_to_record_is_not_started_again(tmp_path, tt_home):
    """Unit level (the refusal is simulated): a trial whose process started but whose
    start the full disk would not record stays one process, recorded once space returns."""
    run_dir = create_run(load_spec(write_spec(tmp_path / "exp", steps=400, sleep=0.02)),
                         tt_home / "runs")
    sup = Supervisor(run_dir)
    sup.register()
    sup.store.create_trial(sup.spec.space.defaults(), "manual", "user")
    refused: list[int] = []
    record, start = sup.store.transition, sup.executor.start

    def transition(tid, state, *args, **kwargs):
        if state == "running" and not refused:
            refused.append(tid)
            raise StoreError("cannot write the run store: database or disk is full")
        return record(tid, state, *args, **kwargs)
    started: list[int] = []
    sup.store.transition = transition
    sup.executor.start = lambda request: (started.append(request.trial_id), start(request))[1]
    try:
        for _ in range(5):
            sup.tick()
        assert refused == [1] and started == [1]
        trial = sup.store.trial(1)
        assert (trial.state, trial.pid) == ("running", sup.handles[1].pid)
    finally:
        sup.trials.stop_experiment("test")
        wait_for(lambda: (sup.tick(), not sup.handles)[1], what="stopped")
        sup.close()


def test_a_step_the_store_refuses_does_not_stop_the_others(tmp_path, tt_home):
    """Unit level: while answering commands fails (the disk is full), a kill already
    planned is still carried out: the tick's other steps run."""
    run_dir = create_run(load_spec(write_spec(tmp_path / "exp", steps=4000, sleep=0.02)),
                         tt_home / "runs")
    sup = Supervisor(run_dir)
    sup.register()
    sup.store.create_trial(sup.spec.space.defaults(), "manual", "user")
    try:
        wait_for(lambda: (sup.tick(), 1 in sup.handles)[1], what="the trial running")
        pid = sup.handles[1].pid

        def refuse() -> None:
            raise StoreError("cannot write the run store: database or disk is full")
        sup.commands.handle = refuse
        sup.trials.plan_end(1, "killed", "user", "trial 1 killed", immediate=True)
        wait_for(lambda: (sup.tick(), sup.store.trial(1).state == "killed")[1],
                 timeout=20, what="the planned kill carried out")
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    finally:
        sup.trials.stop_experiment("test")
        wait_for(lambda: (sup.tick(), not sup.handles)[1], what="stopped")
        sup.close()
