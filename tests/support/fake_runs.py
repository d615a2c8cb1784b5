"""Engine tests in milliseconds: a real supervisor (real store, real commands, real
search and stopping rules) in the test's thread, over the fake executor, with a clock
the test drives. One tick is `TICK` seconds of the run's time.

    run = fake_run(tmp_path, stepper(steps=5), strategy="random", budget="max_trials = 2")
    run.until(lambda: run.sup.finished, "the run to finish")

For tests of front ends in other processes (the CLI), `live_fake_run` supervises a run
of fake trials in a background thread on the real clock: to the CLI it is a run with
a live supervisor (this process).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.specs import write_spec
from tuitune.core.spec import load_spec
from tuitune.engine.runs import create_run
from tuitune.engine.supervisor import TICK, Supervisor
from tuitune.executors.fake import FakeExecutor, FakeTrial, Script, ScriptRun
from tuitune.store import RunStore
from tuitune.system import GpuSource

START = 1_700_000_000.0


class ManualClock:
    """Time that passes only when the test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeRun:
    """A run supervised in the test's thread; `until` ticks it."""

    run_dir: Path
    sup: Supervisor
    executor: FakeExecutor
    clock: ManualClock

    @property
    def store(self) -> RunStore:
        return self.sup.store

    def tick(self, n: int = 1) -> None:
        for _ in range(n):
            self.sup.tick()
            self.clock.advance(TICK)

    def until(self, predicate: Callable[[], Any], what: str, max_ticks: int = 5000) -> Any:
        """Tick until `predicate()` is truthy (its value); fail after `max_ticks`
        (500 s of the run's time by default)."""
        for _ in range(max_ticks):
            self.tick()
            value = predicate()
            if value:
                return value
        raise AssertionError(f"{what} did not happen in {max_ticks} ticks")

    def restart(self) -> FakeRun:
        """A new supervisor for the run, as after one that was SIGKILLed: its trials
        live on in the same executor, and the new one adopts them."""
        sup = Supervisor(self.run_dir, executor=self.executor, clock=self.clock)
        sup.register()
        return FakeRun(self.run_dir, sup, self.executor, self.clock)

    def finish(self) -> None:
        """Stop what still runs and close the supervisor."""
        if self.sup.handles:
            self.store.enqueue_command("stop", {}, "test")
            self.until(lambda: not self.sup.handles, "the stop")
        self.sup.close()

    def trial(self, trial_id: int) -> FakeTrial:
        """The fake process of a trial's latest start."""
        return self.executor.trials[trial_id]


def fake_run(folder: Path, script: Script, home: Path | None = None,
             gpu_source: GpuSource | None = None, **spec: Any) -> FakeRun:
    """A new run of the engine tests' spec (`specs.write_spec` options), registered."""
    path = write_spec(folder / "exp", **spec)
    clock = ManualClock()
    run_dir = create_run(load_spec(path), (home or folder / "home") / "runs")
    executor = FakeExecutor(script, clock)
    sup = Supervisor(run_dir, executor=executor, clock=clock, gpu_source=gpu_source)
    sup.register()
    return FakeRun(run_dir, sup, executor, clock)


@contextmanager
def live_fake_run(folder: Path, script: Script, home: Path, **spec: Any) -> Iterator[Path]:
    """A run under `home` (the CLI's TUITUNE_HOME) whose supervisor ticks in a thread
    of this process until the block ends or the run finishes; yields its folder."""
    run_dir = create_run(load_spec(write_spec(folder / "exp", **spec)), home / "runs")
    ready, stop = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    def supervise() -> None:
        sup = Supervisor(run_dir, executor=FakeExecutor(script, time.time))
        try:
            sup.register()
            ready.set()
            while not stop.is_set() and sup.finished is None:
                sup.tick()
                time.sleep(0.02)
            if sup.finished is not None:
                sup.wind_down()  # as Supervisor.run ends a finished run
        except BaseException as exc:  # told to the test below
            failed.append(exc)
        finally:
            ready.set()
            sup.close()

    thread = threading.Thread(target=supervise, name="fake-supervisor", daemon=True)
    thread.start()
    ready.wait(30)
    try:
        yield run_dir
    finally:
        stop.set()
        thread.join(30)
    if failed:
        raise failed[0]


# -- scripts ---------------------------------------------------------------------------
def stepper(steps: int | None = None) -> Script:
    """`specs.STEPPER` for the fake executor: reports `loss` = 1 / (step lr + 1) and `lr`
    each tick, applies tweaks, checkpoints each step, prints "step N", honours stop
    requests; starts from its initial checkpoint's step when cloned from one."""

    def run(t: FakeTrial) -> ScriptRun:
        lr = float(t.params.get("lr", 0.1))
        last = int(steps if steps is not None else t.params.get("steps", 40))
        if t.initial_checkpoint is not None:
            t.print("resumed from", t.initial_checkpoint.read_text())
        for step in range(t.initial_step + 1, last + 1):
            lr = float(t.apply_tweaks(step).get("lr", lr))
            t.report(step, loss=1.0 / (step * lr + 1.0), lr=lr)
            t.checkpoint(step, str(step))
            t.print("step", step)
            if t.should_stop():
                break
            yield

    return run


def hang(on_sigterm: str = "die") -> Script:
    """A trial that never ends by itself (says nothing, reports nothing)."""

    def run(t: FakeTrial) -> ScriptRun:
        t.on_sigterm = on_sigterm  # type: ignore[assignment]
        while True:
            yield

    return run


def prints_then_exits(lines: list[str], code: int = 0) -> Script:
    """Prints `lines`, one a tick, then exits with `code`."""

    def run(t: FakeTrial) -> ScriptRun:
        for line in lines:
            t.print(line)
            yield
        return code

    return run
