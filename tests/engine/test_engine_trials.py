"""Trial lifecycle: exits, failures, divergence, time caps, stdout metrics (engine
logic, on fake trials: tuitune/executors/fake.py); and against real processes, what
needs them: process trees, hostile parameter values in argv, file permissions."""

from __future__ import annotations

import os
import signal
import stat
import threading

import psutil
import pytest

from tests.support.fake_runs import FakeTrial, fake_run, hang
from tests.support.specs import write_spec
from tests.support.waiting import wait_for
from tuitune.client.run_client import RunClient
from tuitune.core.spec import load_spec
from tuitune.engine.runs import create_run, trial_dir
from tuitune.engine.supervisor import Supervisor
from tuitune.store import RunStore


def run_to_end(spec_path, home, timeout=60, before=None):
    """Create a run and drive its supervisor in a thread until it finishes."""
    run_dir = create_run(load_spec(spec_path), home / "runs")
    sup = Supervisor(run_dir)
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("why", sup.run()), daemon=True)
    thread.start()
    if before:
        before(run_dir)
    thread.join(timeout)
    assert not thread.is_alive(), "supervisor did not finish"
    return run_dir, result["why"]


def fake_to_end(tmp_path, script, **spec):
    """One trial of `script` on the fake executor, driven until the run finishes."""
    run = fake_run(tmp_path, script, strategy="random", **{"budget": "max_trials = 1", **spec})
    why = run.until(lambda: run.sup.finished, "the run to finish")
    run.sup.close()
    return run, why


def states(run_dir):
    return {t.id: t for t in RunStore(run_dir).trials()}


def one_trial_spec(tmp_path, script, **kw):
    return write_spec(tmp_path / "exp", script=script, strategy="random",
                      budget="max_trials = 1", **kw)


def test_completed_trial_and_its_metrics(tmp_path):
    def script(t: FakeTrial):
        for s in range(1, 6):
            t.report(s, loss=1 / s)
            yield

    run, why = fake_to_end(tmp_path, script)
    assert why == "budget used"
    t = states(run.run_dir)[1]
    assert (t.state, t.exit_code) == ("completed", 0)
    assert [p.step for p in RunStore(run.run_dir).metrics(trial_id=1, name="loss")] == [
        1, 2, 3, 4, 5]


def test_crash_is_failed_with_exit_code_and_stderr_tail(tmp_path):
    def script(t: FakeTrial):
        t.print("loading data")
        yield
        t.print("CUDA out of memory")  # what it wrote to stderr: the log holds both
        return 3

    run, _ = fake_to_end(tmp_path, script)
    t = states(run.run_dir)[1]
    assert (t.state, t.exit_code) == ("failed", 3)
    assert "CUDA out of memory" in t.error
    failed = [e for e in RunStore(run.run_dir).events(trial_id=1) if e.kind == "failed"][0]
    assert "exit code 3" in failed.message and "CUDA out of memory" in failed.message


def test_nan_objective_is_diverged_and_stopped(tmp_path):
    def script(t: FakeTrial):
        for s in range(1, 1000):
            t.report(s, loss=float("nan") if s >= 3 else 1.0)
            yield

    run, _ = fake_to_end(tmp_path, script)
    t = states(run.run_dir)[1]
    assert t.state == "diverged"
    assert max(p.step for p in RunStore(run.run_dir).metrics(trial_id=1)) < 200
    assert run.trial(1).ended is not None  # stopped, not left to run its 1000 steps


def test_silent_trial_is_ended_by_the_time_cap(tmp_path):
    run, _ = fake_to_end(tmp_path, hang(), budget="max_trials = 1\ntrial_timeout = 1.5")
    t = states(run.run_dir)[1]
    assert t.state == "timed_out"
    # Its process was signalled and is gone (the local executor's signals to real
    # process trees are tested below and in test_engine_processes.py).
    assert run.trial(1).signals[0] == signal.SIGTERM and run.trial(1).ended is not None


def test_unmodified_script_metrics_come_from_stdout(tmp_path):
    lines = []
    for e in range(1, 4):
        lines += [f"Epoch {e}/3", f"10/10 - 1s - 5ms/step - loss: {1/e:.4f} - val_loss: {2/e:.4f}"]
    lines.append("step=7 loss=0.1")

    def script(t: FakeTrial):
        for line in lines:
            t.print(line)
            yield

    run, _ = fake_to_end(tmp_path, script)
    points = [(p.step, p.name, round(p.value, 4)) for p in RunStore(run.run_dir).metrics()]
    assert (1, "loss", 1.0) in points and (3, "val_loss", 0.6667) in points
    assert (7, "loss", 0.1) in points
    assert states(run.run_dir)[1].state == "completed"


def test_api_reports_win_over_stdout(tmp_path):
    def script(t: FakeTrial):
        for s in range(1, 4):
            t.print(f"loss: {s}")
            t.report(s, loss=10.0 * s)
            yield

    run, _ = fake_to_end(tmp_path, script)
    values = [p.value for p in RunStore(run.run_dir).metrics(name="loss")]
    assert values == [10.0, 20.0, 30.0]


def test_hostile_categorical_reaches_the_program_literally(tmp_path, tt_home):
    script = "import sys, json\nprint(json.dumps(sys.argv[1:]))\n"
    spec = write_spec(tmp_path / "exp", script=script, strategy="random",
                      budget="max_trials = 1")
    text = spec.read_text().replace('command = ["{python}", "script.py"]',
                                    'command = ["{python}", "script.py", "--tag", "{tag}", '
                                    '"x{tag}y"]')
    text += '\n[space.tag]\ntype = "categorical"\nchoices = ["a; rm -rf ~ $(touch pwned) `id`"]\n'
    spec.write_text(text)
    run_dir, _ = run_to_end(spec, tt_home)
    log = (trial_dir(run_dir, 1) / "log.txt").read_text()
    hostile = "a; rm -rf ~ $(touch pwned) `id`"
    assert f'["--tag", "{hostile}", "x{hostile}y"]' in log
    assert not (tmp_path / "exp" / "pwned").exists()


def test_run_folder_and_store_are_owner_only(tmp_path, tt_home):
    run_dir, _ = run_to_end(one_trial_spec(tmp_path, "print('ok')\n"), tt_home)
    for path in (run_dir, run_dir / "store.db", trial_dir(run_dir, 1),
                 trial_dir(run_dir, 1) / "log.txt"):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode & 0o077 == 0, (path, oct(mode))


TREE = """
import os, subprocess, sys, time
import tuitune.in_trial.trial as tt
# a child, a grandchild, and a grandchild that left the process group (setsid)
code = ("import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); time.sleep(600)")
subprocess.Popen([sys.executable, "-c", code])
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
for s in range(1, 10000):
    tt.report(s, loss=1.0)
    time.sleep(0.1)
"""


@pytest.mark.parametrize("paused", [False, True])
def test_kill_ends_the_whole_tree_even_outside_the_group(tmp_path, tt_home, paused):
    spec = write_spec(tmp_path / "exp", script=TREE, strategy="manual")
    run_dir = create_run(load_spec(spec), tt_home / "runs")
    sup = Supervisor(run_dir)
    sup.register()
    client = RunClient(run_dir)
    client.store.enqueue_command("new", {"params": client.spec.space.defaults()}, "user")

    def tree():
        t = client.store.trial(1)
        return psutil.Process(t.pid).children(recursive=True) if t and t.pid else []

    wait_for(lambda: (sup.tick(), len(tree()) >= 4)[1], what="the trial's tree")
    victims = [psutil.Process(client.store.trial(1).pid), *tree()]
    wait_for(lambda: (sup.tick(), len(client.store.trial(1).tree) >= 4)[1], what="tree recorded")
    if paused:
        client.store.enqueue_command("pause", {"trial_id": 1}, "user")
        wait_for(lambda: (sup.tick(), client.store.trial(1).state == "paused")[1], what="pause")
    client.store.enqueue_command("kill", {"trial_id": 1}, "user")
    wait_for(lambda: (sup.tick(), client.store.trial(1).state == "killed")[1], timeout=30,
             what="killed")
    for proc in victims:
        gone = not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
        assert gone, f"{proc.pid} survived the kill"
    sup.close()


def test_stdout_steps_the_store_cannot_hold_fall_back_to_counting():
    from tuitune.engine.stdout_metrics import StdoutMetricParser

    parser = StdoutMetricParser()
    assert parser.feed("step=1e30 loss=0.3") == [(1, "loss", 0.3)]
    assert parser.feed("epoch 99999999999999999999999: loss=0.2") == [(2, "loss", 0.2)]
    assert parser.feed("step=5 loss=0.1") == [(5, "loss", 0.1)]
