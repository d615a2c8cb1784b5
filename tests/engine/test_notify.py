"""`[notify]` with real runs: the supervisor runs the command (a real program that
records its standard input) for the chosen events; bursts are rate-limited."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from tests.support.processes import cli
from tests.support.specs import write_spec
from tests.support.store_reads import events

from .bad_input import run_cli

RECORDER = """
import sys
line = sys.stdin.read()
with open(sys.argv[1], "a") as out:
    out.write(line)
"""

DIVERGES = """
import math, time
import tuitune.in_trial.trial as tt
for step in range(1, 200):
    tt.report(step, loss=float("nan") if step == 3 else 1.0 / step)
    if tt.should_stop():
        break
    time.sleep(0.05)
"""

SILENT = """
import time
import tuitune.in_trial.trial as tt
tt.report(1, loss=1.0)
time.sleep(4)
tt.report(2, loss=0.5)
"""


def _notify_spec(tmp_path, script: str, table: str, trials: int = 1, concurrent: int = 1,
                 steps: int = 1, sleep: float = 0.0):
    recorder = tmp_path / "recorder.py"
    recorder.write_text(RECORDER)
    out = tmp_path / "told.jsonl"
    spec = write_spec(tmp_path / "exp", script=textwrap.dedent(script), strategy="random",
                      concurrent=concurrent, budget=f"max_trials = {trials}", steps=steps,
                      sleep=sleep)
    spec.write_text(spec.read_text() + "\n[notify]\n" + textwrap.dedent(table).format(
        python=sys.executable, recorder=recorder, out=out))
    return spec, out


def _told(out) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def _run_dir(home):
    [run] = [p for p in (home / "runs").iterdir() if (p / "store.db").exists()]
    return run


@pytest.mark.slow
def test_a_divergence_runs_the_command_once_with_the_event(tt_home, tmp_path):
    spec, out = _notify_spec(tmp_path, DIVERGES, """
        on = ["diverged"]
        command = ["{python}", "{recorder}", "{out}"]
        """)
    done = cli("run", str(spec), "--headless", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    told = _told(out)
    assert len(told) == 1, told
    [event] = told
    run = _run_dir(tt_home)
    assert event["kind"] == "diverged" and event["trial_id"] == 1 and event["run"] == run.name
    stored = next(e for e in events(run) if e.kind == "diverged")
    assert event["id"] == stored.id and event["message"] == stored.message
    assert not [e for e in events(run) if e.kind == "notify_failed"]


@pytest.mark.slow
def test_a_burst_of_50_completions_gives_a_few_notifications_and_a_summary(tt_home, tmp_path):
    spec, out = _notify_spec(tmp_path, "import tuitune.in_trial.trial as tt\n"
                             "tt.report(1, loss=tt.params()['lr'])\n", """
        on = ["completed", "finished"]
        command = ["{python}", "{recorder}", "{out}"]
        burst = 3
        window = "10m"
        """, trials=50, concurrent=10)
    done = cli("run", str(spec), "--headless", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    told = _told(out)
    assert 2 <= len(told) <= 5, [t["kind"] for t in told]
    [summary] = [t for t in told if t["kind"] == "summary"]
    singles = [t for t in told if t["kind"] != "summary"]
    assert len(singles) == 3
    # Every event is told once: alone or counted in the summary (the run's end included).
    assert summary["count"] + len(singles) == 51
    assert summary["kinds"].get("completed", 0) + sum(
        t["kind"] == "completed" for t in singles) == 50
    assert f"{summary['count']} more events" in summary["message"]


@pytest.mark.slow
def test_failing_commands_are_events_and_a_stall_is_told(tt_home, tmp_path):
    spec, out = _notify_spec(tmp_path, SILENT, """
        on = ["stalled", "finished"]
        command = ["{python}", "-c", "import sys; sys.stdin.read(); sys.exit(3)"]
        stall_after = "2s"
        """)
    done = cli("run", str(spec), "--headless", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr  # never fatal
    run = _run_dir(tt_home)
    stalled = [e for e in events(run) if e.kind == "stalled"]
    # Silent 4 s after its first report (and maybe before it, on a loaded machine).
    assert 1 <= len(stalled) <= 2 and all(e.trial_id == 1 for e in stalled), stalled
    failed = [e.message for e in events(run) if e.kind == "notify_failed"]
    assert len(failed) == len(stalled) + 1, failed  # each stall and the run's end
    assert all("exited with status 3" in m for m in failed), failed


def test_a_notify_command_that_does_not_exist_is_refused(tt_home, tmp_path):
    for table, said in (('command = ["no-such-notifier-xyz"]\n', "is not an executable program"),
                        ('on = ["everything"]\n', "unknown event kind 'everything'"),
                        ('command = "mail me"\n', "expected an argv")):
        spec = write_spec(tmp_path / "exp", strategy="random")
        spec.write_text(spec.read_text() + "\n[notify]\n" + table)
        code, _, stderr = run_cli(["run", str(spec), "--headless"])  # the CLI's code, here
        assert code == 2 and said in stderr, stderr
        assert stderr.count("\n") == 1
        assert not (tt_home / "runs").exists() or not list((tt_home / "runs").iterdir())
