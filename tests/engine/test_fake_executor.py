"""The fake executor keeps the executor contract the local one keeps with real
processes: the same scripted behaviours (exit with a code, end by SIGTERM, ignore
SIGTERM until SIGKILL, stop while paused, adoption by identity) give the same `Exit`
and the same answers. Engine tests on fake trials rely on it."""

from __future__ import annotations

import dataclasses

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.fake_runs import ManualClock, prints_then_exits
from tests.support.waiting import wait_for
from tuitune.executors import LaunchRequest, LocalExecutor
from tuitune.executors.base import Executor, Exit, TrialHandle
from tuitune.executors.fake import FakeExecutor, FakeTrial

# Each behaviour: a real program and the fake script that plays it.
REAL = {
    "exit3": "print('a'); print('b'); raise SystemExit(3)",
    "hang": "import time\nwhile True:\n    print('tick', flush=True); time.sleep(0.05)",
    "ignore_term": ("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                    "print('ready', flush=True)\nwhile True:\n    time.sleep(0.05)"),
    "crash": "print('x'); raise RuntimeError('boom')",
}


def ticker(t: FakeTrial):
    while True:
        t.print("tick")
        yield


def ignores_term(t: FakeTrial):
    t.on_sigterm = "ignore"
    t.print("ready")
    while True:
        yield


def crashes(t: FakeTrial):
    t.print("x")
    yield
    raise RuntimeError("boom")


FAKE = {"exit3": prints_then_exits(["a", "b"], 3), "hang": ticker,
        "ignore_term": ignores_term, "crash": crashes}


class Bench:
    """One executor and a way to let its trials' time pass."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind, self.tmp_path = kind, tmp_path
        self.executor: Executor = (LocalExecutor() if kind == "local"
                                   else FakeExecutor(lambda t: FAKE[t.env["BEHAVIOUR"]](t),
                                                     ManualClock()))
        self.handles: list[TrialHandle] = []

    def start(self, behaviour: str) -> TrialHandle:
        tdir = self.tmp_path / f"trial-{len(self.handles) + 1}"
        request = LaunchRequest(len(self.handles) + 1, (sys.executable, "-c", REAL[behaviour]),
                                self.tmp_path, {**os.environ, "BEHAVIOUR": behaviour},
                                tdir, tdir / "log.txt")
        handle = self.executor.start(request)
        self.handles.append(handle)
        return handle

    def until(self, predicate: Callable[[], object], what: str) -> object:
        def step():
            if isinstance(self.executor, FakeExecutor):
                self.executor.pump(None)
            return predicate()
        return wait_for(step, 30, what, interval=0 if self.kind == "fake" else 0.05)

    def log(self, handle: TrialHandle) -> list[str]:
        return (Path(handle.trial_dir) / "log.txt").read_text().splitlines()

    def close(self) -> None:
        for handle in self.handles:
            self.executor.kill(handle)


@pytest.fixture(params=["local", "fake"])
def bench(request, tmp_path):
    b = Bench(request.param, tmp_path)
    yield b
    b.close()


def test_an_exit_code_and_what_was_printed(bench):
    handle = bench.start("exit3")
    ended = bench.until(lambda: bench.executor.poll(handle), "the exit")
    assert ended == Exit(3)
    assert bench.log(handle) == ["a", "b"]


def test_a_crash_is_exit_code_1_with_its_traceback_in_the_log(bench):
    handle = bench.start("crash")
    assert bench.until(lambda: bench.executor.poll(handle), "the exit") == Exit(1)
    assert bench.log(handle)[-1] == "RuntimeError: boom"


def test_sigterm_ends_a_trial_by_default(bench):
    handle = bench.start("hang")
    bench.until(lambda: bench.log(handle), "output")
    assert bench.executor.poll(handle) is None and bench.executor.adopt(handle)
    bench.executor.terminate(handle)
    assert bench.until(lambda: bench.executor.poll(handle), "the end") == Exit(
        None, signal.SIGTERM)
    assert not bench.executor.adopt(handle)


def test_a_trial_that_ignores_sigterm_ends_only_by_sigkill(bench):
    handle = bench.start("ignore_term")
    bench.until(lambda: bench.log(handle) == ["ready"], "ready")
    bench.executor.terminate(handle)
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:  # it had time to die, and did not
        bench.until(lambda: True, "a moment")
    assert bench.executor.poll(handle) is None
    bench.executor.kill(handle)
    # SIGKILL reaches the launcher too: it cannot record the trial's end. Whether the
    # trainer was still there to be ended with it (orphans_ended 0 or 1) is a race
    # between its parent-death signal and the sweep, so it is not pinned.
    ended = bench.until(lambda: bench.executor.poll(handle), "the end")
    assert dataclasses.replace(ended, orphans_ended=0) == Exit(
        None, signal.SIGKILL, launcher_killed=True)
    assert ended.orphans_ended in (0, 1)


def test_a_paused_trial_makes_no_progress_until_resumed(bench):
    handle = bench.start("hang")
    bench.until(lambda: len(bench.log(handle)) >= 2, "output")
    bench.executor.pause(handle)
    bench.until(lambda: True, "a moment")  # a line in flight may land
    time.sleep(0.3)
    lines = len(bench.log(handle))
    for _ in range(5):
        bench.until(lambda: True, "a moment")
    time.sleep(0.3)
    assert len(bench.log(handle)) == lines
    bench.executor.resume(handle)
    bench.until(lambda: len(bench.log(handle)) > lines, "output after resume")


def test_a_handle_with_another_start_time_is_not_adopted(bench):
    handle = bench.start("hang")
    bench.until(lambda: bench.log(handle), "output")
    stale = TrialHandle(handle.trial_id, handle.pid, handle.pid_start - 1000.0,
                        trial_dir=handle.trial_dir)
    assert bench.executor.adopt(handle) and not bench.executor.adopt(stale)
    printed = len(bench.log(handle))
    bench.executor.kill(stale)  # names no process of ours: nothing happens
    # ...not even a moment later (a SIGKILL to the trial's cgroup lands asynchronously):
    # the trial goes on printing.
    bench.until(lambda: len(bench.log(handle)) > printed + 20, "more output after the kill")
    assert bench.executor.poll(handle) is None
