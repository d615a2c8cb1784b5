"""Crash safety under real SIGKILL at every named step (tuitune/engine/crash_points.py).

A run is started with `TUITUNE_CRASH_AT=<point>`, driven through start, pause,
unpause, clone and kill until its supervisor kills itself at that point, then
`tuitune resume`d. The promises checked: no trial runs twice (one START line per
trial log, no (trial, step, metric) point stored twice), no command runs twice, a kill
that was under way ends as planned, a trial's recorded pause state is its process's
state, and after `tuitune stop` no process of the run is left.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.support.fake_runs import fake_run, stepper
from tests.support.processes import cli
from tests.support.specs import STEPPER, write_spec
from tests.support.store_reads import trial
from tests.support.waiting import wait_for
from tuitune.engine import crash_points
from tuitune.engine.runs import is_supervised
from tuitune.store import RunStore

# Says once per process that it started; ignores SIGTERM when `stubborn = 1`.
PRELUDE = """
import os, signal
import tuitune.in_trial.trial as _tt
if int(_tt.params().get("stubborn", 0)):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("START", os.getpid(), flush=True)
"""
STUBBORN = """
[space.stubborn]
type = "categorical"
choices = [0, 1]
default = 0
"""
# The fast ones run in every suite; the whole matrix takes minutes.
FAST = {"start.spawned", "end.termed"}


def _state(run_dir: Path, tid: int) -> str | None:
    t = trial(run_dir, tid)
    return t.state if t else None


def _query(run_dir: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{run_dir / 'store.db'}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _run_processes(run_dir: Path, trial_id: int | None = None) -> list[psutil.Process]:
    """Every live process started for this run (or one of its trials), found by the
    environment the engine gives trials, whichever process group or parent they have."""
    found = []
    for proc in psutil.process_iter():
        try:
            env = proc.environ()
            if env.get("TUITUNE_RUN_DIR") != str(run_dir) or proc.status() == "zombie":
                continue
            if trial_id is None or env.get("TUITUNE_TRIAL_ID") == str(trial_id):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _supervisor_pid(run_dir: Path) -> int | None:
    store = RunStore(run_dir)
    try:
        return store.meta(["supervisor_pid"]).get("supervisor_pid")
    finally:
        store.close()


def _start(spec: Path, home: Path, log: Path, crash_at: str | None) -> tuple[Path, int]:
    """`tuitune run --headless` with the crash point in its environment; returns the run
    and its supervisor's pid. The headless follower is ended at once: it carries the
    crash point too, and only the first supervisor may have it."""
    env = dict(os.environ)
    if crash_at:
        env[crash_points.ENV] = crash_at
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tuitune", "run", str(spec),
                                 "--headless"], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        run_dir = wait_for(lambda: next((home / "runs").glob("*/store.db"), None), 30,
                           "the run folder").parent
        wait_for(lambda: is_supervised(run_dir), 30, "the supervisor")
    finally:
        proc.kill()
        proc.wait(timeout=10)
    return run_dir, _supervisor_pid(run_dir)


def _scenario(run: Path) -> list[tuple[tuple[str, ...], object]]:
    """(CLI command, what must hold once it took effect), in order."""
    r = str(run)
    return [
        (("new", r, "lr=0.05"),
         lambda: _state(run, 1) == "running" and (trial(run, 1).checkpoint_step or 0) >= 1),
        (("new", r, "stubborn=1"),
         lambda: _state(run, 2) == "running" and _query(
             run, "SELECT COUNT(*) FROM metrics WHERE trial_id = 2")[0][0] > 0),
        (("pause", r, "1"), lambda: _state(run, 1) == "paused"),
        (("unpause", r, "1"), lambda: _state(run, 1) == "running"),
        (("clone", r, "1", "--from-checkpoint"), lambda: _state(run, 3) == "running"),
        (("kill", r, "2"), lambda: _state(run, 2) == "killed"),
    ]


def _drive_until_crash(run: Path, point: str, first_pid: int) -> None:
    # A command sent to a dead supervisor starts a new one: a crash shows as a new pid.
    def crashed() -> bool:
        return _supervisor_pid(run) != first_pid or not is_supervised(run)

    for command, took_effect in _scenario(run):
        cli(*command)
        wait_for(lambda: took_effect() or crashed(), 40, f"{command[0]} to act")
        if crashed():
            return
    pytest.fail(f"the supervisor never reached crash point {point}")


def _stopped(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_STOPPED
    except psutil.NoSuchProcess:
        return False


def _check_pause_state(run: Path) -> None:
    """A paused trial's processes are stopped, a running trial's are not."""
    def consistent() -> bool:
        state = _state(run, 1)
        procs = _run_processes(run, 1)
        if state == "paused":
            return bool(procs) and all(_stopped(p) for p in procs)
        return not any(_stopped(p) for p in procs)
    wait_for(consistent, 15, "trial 1's processes to match its recorded state "
             f"({_state(run, 1)})")


def _check_no_duplicates(run: Path) -> None:
    dup = _query(run, "SELECT trial_id, step, name, COUNT(*) FROM metrics "
                      "GROUP BY trial_id, step, name HAVING COUNT(*) > 1")
    assert not dup, f"points stored twice (trial, step, name, count): {dup[:5]}"
    for log in sorted((run / "trials").glob("*/log.txt")):
        starts = re.findall(r"^START \d+$", log.read_text(errors="replace"), re.M)
        assert len(starts) <= 1, f"{log.parent.name} started {len(starts)} times"
    commands = _query(run, "SELECT COUNT(*) FROM commands WHERE kind IN ('new', 'clone')")[0][0]
    created = _query(run, "SELECT COUNT(*) FROM events WHERE kind = 'created'")[0][0]
    assert created <= commands, f"{created} trials created by {commands} commands"


def _stop_and_check_nothing_left(run: Path) -> None:
    out = cli("stop", str(run))
    assert out.returncode == 0, out.stderr
    wait_for(lambda: RunStore(run).meta().get("state") == "finished", 40, "the run to stop")
    wait_for(lambda: not _run_processes(run), 15,
             f"no process of the run left (left: {[p.pid for p in _run_processes(run)]})")
    active = _query(run, "SELECT id, state FROM trials WHERE state IN "
                         "('queued', 'running', 'paused')")
    assert not active, active
    open_commands = _query(run, "SELECT id, kind, status FROM commands WHERE status IN "
                                "('pending', 'taken')")
    assert not open_commands, open_commands


@pytest.mark.parametrize("point", [
    pytest.param(p, marks=() if p in FAST else pytest.mark.slow) for p in crash_points.POINTS])
def test_supervisor_killed_at_each_step_loses_nothing_and_runs_nothing_twice(
        point, tmp_path, tt_home):
    # A short grace: the kill of the stubborn trial (end.*) waits it out before SIGKILL.
    spec = write_spec(tmp_path / "exp", script=PRELUDE + STEPPER, steps=600, sleep=0.05,
                      extra=STUBBORN, kill_grace=0.5)
    (tmp_path / "crash_point.txt").write_text(point)  # for benchmarks/bench_crash_points.py
    run, first_pid = _start(spec, tt_home, tmp_path / "first.log", crash_at=point)
    _drive_until_crash(run, point, first_pid)
    wait_for(lambda: not psutil.pid_exists(first_pid)
             or psutil.Process(first_pid).status() == psutil.STATUS_ZOMBIE, 10, "the crash")
    out = cli("resume", str(run))
    assert out.returncode == 0, out.stderr
    wait_for(lambda: is_supervised(run), 30, "the resumed supervisor")
    # Recovery is done once the new supervisor has ticked (its heartbeat moved).
    beat = RunStore(run).meta().get("heartbeat") or 0
    wait_for(lambda: (RunStore(run).meta().get("heartbeat") or 0) > beat, 15, "a tick")
    if point.startswith("end."):
        # The kill of stubborn trial 2 was under way: it must finish as planned.
        wait_for(lambda: _state(run, 2) == "killed", 20,
                 f"trial 2 to be killed (it is {_state(run, 2)})")
        assert not _run_processes(run, 2)
    if point.startswith(("pause.", "unpause.")):
        _check_pause_state(run)
    if point.startswith("clone."):
        clones = _query(run, "SELECT initial_checkpoint FROM trials WHERE origin = 'clone'")
        assert len(clones) <= 1
        assert all(c and Path(c).exists() for (c,) in clones), clones
    _check_no_duplicates(run)
    _stop_and_check_nothing_left(run)
    _check_no_duplicates(run)


# Saves one checkpoint holding a named pipe, which no copy can take: cloning it
# from its checkpoint makes the clone handler raise (a real OSError from shutil).
PIPE_CHECKPOINT = """
import os, time
import tuitune.in_trial.trial as tt
ckpt = tt.checkpoint_dir() / "ckpt"
ckpt.mkdir(exist_ok=True)
(ckpt / "weights.txt").write_text("1")
os.mkfifo(ckpt / "pipe")
tt.checkpoint_saved(ckpt, 1)
for step in range(1, 600):
    tt.report(step, loss=1.0 / step)
    if tt.should_stop():
        break
    time.sleep(0.05)
"""


def test_a_handler_that_raises_answers_failed_once_and_the_supervisor_carries_on(
        tmp_path, tt_home):
    spec = write_spec(tmp_path / "exp", script=PIPE_CHECKPOINT)
    run, first_pid = _start(spec, tt_home, tmp_path / "supervisor.log", crash_at=None)
    r = str(run)
    assert cli("new", r).returncode == 0
    wait_for(lambda: (trial(run, 1).checkpoint_step or 0) == 1, 30, "the checkpoint")
    out = cli("clone", r, "1", "--from-checkpoint")
    # One line, naming the command and why, no traceback; the supervisor lives on.
    assert out.returncode == 1, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "clone failed" in lines[0] and "named pipe" in lines[0], lines
    assert is_supervised(run) and _supervisor_pid(run) == first_pid
    answer = _query(run, "SELECT id, status, result FROM commands WHERE kind = 'clone'")
    assert [a[1] for a in answer] == ["failed"] and answer[0][2] in lines[0]
    logged = _query(run, "SELECT message FROM events WHERE kind = 'command_failed'")
    assert len(logged) == 1 and "clone failed" in logged[0][0]
    assert "clone failed" in cli("events", r).stdout
    assert _query(run, "SELECT COUNT(*) FROM trials")[0][0] == 1  # no half-made clone

    # A new supervisor never runs the failed command again...
    os.kill(first_pid, signal.SIGKILL)
    wait_for(lambda: not is_supervised(run), 10, "the supervisor to die")
    assert cli("resume", r).returncode == 0
    wait_for(lambda: is_supervised(run), 30, "the resumed supervisor")
    # ... and carries on with the next command.
    assert cli("new", r, "lr=0.02").returncode == 0
    wait_for(lambda: _state(run, 2) == "running", 30, "trial 2 to run")
    assert _query(run, "SELECT id, status, result FROM commands WHERE kind = 'clone'") \
        == answer
    assert len(_query(run, "SELECT id FROM events WHERE kind = 'command_failed'")) == 1
    _stop_and_check_nothing_left(run)


def test_one_trial_whose_watching_raises_stops_neither_the_loop_nor_other_trials(tmp_path):
    """The per-trial boundary, in-process over fake trials (the engine's decision, not a
    process, is under test): watching trial 1 raises on every tick (an injected fault
    in its executor calls); trial 2 is still recorded when it ends, commands are still
    answered, and the failure is reported once."""
    run = fake_run(tmp_path, stepper(steps=15))
    sup = run.sup
    try:
        for _ in range(2):
            sup.store.enqueue_command("new", {"params": sup.spec.space.defaults()}, "user")
        run.until(lambda: {1, 2} <= set(sup.handles), "two trials")
        real_poll = sup.executor.poll

        def poll(handle):
            if handle.trial_id == 1:
                raise OSError("injected: trial 1's process table entry is unreadable")
            return real_poll(handle)

        sup.executor.poll = poll  # type: ignore[method-assign]
        note = sup.store.enqueue_command("note", {"trial_id": 2, "text": "still here"}, "user")
        run.until(lambda: _state(run.run_dir, 2) == "completed", "trial 2 done")
        assert sup.store.command(note).status == "done"
        errors = [e.message for e in sup.store.events() if e.kind == "engine_error"]
        assert errors == ["watching trial 1: OSError: injected: trial 1's process table "
                          "entry is unreadable"]
        sup.executor.poll = real_poll  # type: ignore[method-assign]
        run.until(lambda: _state(run.run_dir, 1) == "completed", "trial 1 done")
    finally:
        run.finish()


@pytest.mark.parametrize("point", [
    "command.taken",
    pytest.param("command.acted", marks=pytest.mark.slow),
    pytest.param("command.answered", marks=pytest.mark.slow)])
def test_a_hand_off_with_rules_is_applied_whole_or_not_at_all_through_a_crash(
        point, tmp_path, tt_home):
    """A hand-off changes the strategy, the budget and the stopping rules at once. The
    supervisor is SIGKILLed at each step of that command, then resumed: before it acted
    nothing changed (and the command is never run late); once it acted, the resumed
    supervisor searches with the new strategy under the new rules (ASHA with one-step
    rungs, seen pruning a searched trial), and the hand-off is recorded once."""
    # One trial at a time and a seeded search: ASHA's rung order is fixed.
    spec = write_spec(tmp_path / "exp", steps=12, sleep=0.05, concurrent=1)
    run, first_pid = _start(spec, tt_home, tmp_path / "first.log", crash_at=point)
    r = str(run)
    # Without the crash point the answer is "handed off"; with it the CLI's answer is
    # the resumed supervisor's "interrupted" or done, whichever: the store is checked.
    cli("handoff", r, "random", "--more", "4", "--rule", "asha",
        "--rule-option", "asha.min_steps=1", "--rule-option", "asha.reduction_factor=2")
    wait_for(lambda: _supervisor_pid(run) != first_pid or not is_supervised(run), 40,
             "the crash")
    wait_for(lambda: not psutil.pid_exists(first_pid)
             or psutil.Process(first_pid).status() == psutil.STATUS_ZOMBIE, 10, "the crash")
    assert cli("resume", r).returncode == 0
    wait_for(lambda: is_supervised(run), 30, "the resumed supervisor")
    beat = RunStore(run).meta().get("heartbeat") or 0
    wait_for(lambda: (RunStore(run).meta().get("heartbeat") or 0) > beat, 15, "a tick")

    answers = _query(run, "SELECT status, result FROM commands WHERE kind = 'handoff'")
    assert len(answers) == 1, answers
    handoffs = _query(run, "SELECT message FROM events WHERE kind = 'handoff'")
    meta = RunStore(run).meta()
    if point == "command.taken":
        assert answers[0][0] == "failed" and "interrupted" in answers[0][1], answers
        assert handoffs == [] and meta.get("strategy") == "manual", (handoffs, meta)
        assert not meta.get("stopping_rules")
        assert _query(run, "SELECT COUNT(*) FROM trials")[0][0] == 0
    else:
        assert len(handoffs) == 1 and "stopping rules: asha" in handoffs[0][0], handoffs
        assert meta.get("strategy") == "random"
        assert [name for name, _ in meta["stopping_rules"]] == ["asha"]
        # The resumed supervisor searches (4 trials) and its rules are the hand-off's.
        wait_for(lambda: _query(run, "SELECT COUNT(*) FROM trials WHERE state IN "
                                     "('completed', 'pruned')")[0][0] == 4, 60,
                 "the 4 searched trials to end")
        origins = {o for (o,) in _query(run, "SELECT origin FROM trials")}
        assert origins == {"random"}, origins
        pruned = _query(run, "SELECT actor FROM events WHERE kind = 'pruned'")
        assert pruned and all(a == "stopping rule asha" for (a,) in pruned), pruned
        created = _query(run, "SELECT COUNT(*) FROM events WHERE kind = 'created'")[0][0]
        assert created == 4, f"{created} trials created for a budget of 4"
    dup = _query(run, "SELECT trial_id, step, name, COUNT(*) FROM metrics "
                      "GROUP BY trial_id, step, name HAVING COUNT(*) > 1")
    assert not dup, dup[:5]
    _stop_and_check_nothing_left(run)
