"""`tuitune logs RUN ID -f` and `tuitune events RUN -f` follow a live run (issue 14.14):
lines come as they are written, with control sequences escaped; they end by themselves
when the trial (logs) or the run (events) ends, and quietly on Ctrl-C (real SIGINT).

Real supervisors and trials; the followers are real `tuitune` processes."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.support.processes import supervised
from tests.support.specs import STEPPER
from tests.support.store_reads import read, trial
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow  # real runs on a loaded machine: ~10-20 s each

#: Prints a numbered line with an escape sequence every 0.2 s, for about 6 s.
TALKER = """
import sys, time
for i in range(30):
    print(f"line {i} \\x1b]0;title\\x07 red", flush=True)
    time.sleep(0.2)
print("done", flush=True)
"""

SLEEPER = """
import time
print("started", flush=True)
time.sleep(120)
"""


def _follower(*args: str) -> tuple[subprocess.Popen[str], queue.Queue[str | None]]:
    """`tuitune ARGS` with its stdout read line by line as it comes (None at its end)."""
    proc = subprocess.Popen([sys.executable, "-m", "tuitune", *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def _next(lines: queue.Queue[str | None], timeout: float = 30) -> str | None:
    return lines.get(timeout=timeout)


def _rest(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> list[str]:
    out = []
    while (line := _next(lines, 60)) is not None:
        out.append(line)
    proc.wait(30)
    return out


def test_logs_follow_prints_new_lines_escaped_and_ends_with_the_trial(tmp_path, tt_home):
    with supervised(tmp_path, tt_home, TALKER) as (run_dir, _):
        wait_for(lambda: (run_dir / "trials").exists() and
                 any("line 2" in p.read_text() for p in (run_dir / "trials").rglob("log.txt")),
                 timeout=60, what="the trial talking")
        proc, lines = _follower("logs", run_dir.name, "1", "-f", "-n", "1")
        first = _next(lines)
        assert first is not None and first.startswith("line "), first
        start = int(first.split()[1])
        # A line written after the follower started reaches it while the trial runs.
        later = _next(lines)
        assert later == f"line {start + 1} \\x1b]0;title\\x07 red"
        assert trial(run_dir, 1).state == "running"
        rest = _rest(proc, lines)
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        assert rest[-1] == "done" and trial(run_dir, 1).state == "completed"
        numbers = [int(line.split()[1]) for line in [first, later, *rest[:-1]]]
        assert numbers == list(range(start, 30))  # each line once, in order, none lost
        assert not any("\x1b" in line for line in rest)


def test_logs_follow_raw_keeps_escape_sequences(tmp_path, tt_home):
    with supervised(tmp_path, tt_home, TALKER) as (run_dir, _):
        wait_for(lambda: trial(run_dir, 1) and trial(run_dir, 1).state == "running",
                 timeout=60, what="the trial running")
        proc, lines = _follower("logs", run_dir.name, "1", "-f", "--raw")
        rest = _rest(proc, lines)
        assert proc.returncode == 0 and rest[-1] == "done"
        assert "line 29 \x1b]0;title\x07 red" in rest


def _supervised_now(run_dir) -> None:
    """Wait until the run's supervisor has registered: a live run, as a user follows it."""
    wait_for(lambda: read(run_dir, lambda s: s.meta().get("supervisor_pid")), timeout=60,
             what="the supervisor")


def _ctrl_c(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> str:
    proc.send_signal(signal.SIGINT)
    _rest(proc, lines)
    assert proc.stderr is not None
    return proc.stderr.read()


def test_logs_follow_ends_quietly_on_ctrl_c(tmp_path, tt_home):
    with supervised(tmp_path, tt_home, SLEEPER) as (run_dir, _):
        wait_for(lambda: trial(run_dir, 1) and trial(run_dir, 1).state == "running",
                 timeout=60, what="the trial running")
        wait_for(lambda: "started" in next((run_dir / "trials").rglob("log.txt")).read_text(),
                 timeout=30, what="the trial's first line")
        proc, lines = _follower("logs", run_dir.name, "1", "-f")
        assert _next(lines) == "started"
        time.sleep(0.5)  # following now, not starting up
        err = _ctrl_c(proc, lines)
        assert proc.returncode == 130 and "Traceback" not in err and err == "", err
        assert trial(run_dir, 1).state == "running"  # only the following stopped


def test_events_follow_json_lines_until_the_run_finishes(tmp_path, tt_home):
    script = STEPPER  # 40 steps of 0.1 s
    with supervised(tmp_path, tt_home, script, trials=2) as (run_dir, _):
        _supervised_now(run_dir)
        proc, lines = _follower("events", run_dir.name, "-f", "--json")
        first = _next(lines, 60)
        assert first is not None
        assert trial(run_dir, 2) is None or trial(run_dir, 2).state != "completed"
        rest = [json.loads(line) for line in [first, *_rest(proc, lines)]]
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        assert all(set(e) == {"id", "t", "trial_id", "kind", "actor", "message"} for e in rest)
        ids = [e["id"] for e in rest]
        assert ids == sorted(set(ids)) and ids[0] == 1  # every event once, in order
        kinds = [e["kind"] for e in rest]
        assert kinds.count("completed") == 2 or \
            sum("completed" in e["message"] for e in rest) == 2, kinds


def test_events_follow_ends_quietly_on_ctrl_c(tmp_path, tt_home):
    with supervised(tmp_path, tt_home, SLEEPER) as (run_dir, _):
        _supervised_now(run_dir)
        proc, lines = _follower("events", run_dir.name, "-f")
        assert _next(lines, 60) is not None
        wait_for(lambda: trial(run_dir, 1) and trial(run_dir, 1).state == "running",
                 timeout=60, what="the trial running")
        time.sleep(0.5)
        err = _ctrl_c(proc, lines)
        assert proc.returncode == 130 and err == "", err
