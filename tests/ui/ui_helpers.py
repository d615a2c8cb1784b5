"""Helpers for the TUI tests (used by conftest.py and the tests): real runs with a real
supervisor and real trial processes, deterministic runs written straight into a store,
and helpers to drive and read the app.
"""

from __future__ import annotations

import io
import math
import os
import signal
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psutil
from rich.console import Console

from tests.support.store_reads import events, trial  # noqa: F401 (the UI tests import them here)
from tests.support.store_reads import read as from_store  # noqa: F401
from tests.support.waiting import wait_for as wait_sync
from tuitune.client.run_client import RunClient
from tuitune.core.spec import load_spec
from tuitune.engine.runs import create_run, spawn_supervisor, wait_for_supervisor
from tuitune.store import RunStore
from tuitune.system import FakeGpuSource, HostSample

#: A screen type a test waits for.
T = TypeVar("T")

TRIAL_SCRIPT = """\
import time
import tuitune.in_trial.trial as tt

p = tt.params()
lr = float(p.get("lr", 0.01))
steps = int(p.get("steps", 600))
first = tt.initial_step() + 1 if tt.initial_checkpoint() else 1
for step in range(first, steps + 1):
    lr = float(tt.apply_tweaks(step=step).get("lr", lr))
    tt.report(step, loss=1.0 / step + lr, val_loss=1.5 / step + lr, lr=lr)
    print(f"step {step} lr {lr}", flush=True)
    if step % 5 == 0:
        path = tt.checkpoint_dir() / "ck.txt"
        path.write_text(str(step))
        tt.checkpoint_saved(path, step)
    if tt.should_stop():
        break
    time.sleep(0.1)
"""

SPEC = """\
name = "{name}"
command = ["{{python}}", "trial.py"]
kill_grace = 2

[space.lr]
type = "float"
low = 0.0001
high = 1.0
log = true
mutable = true
default = 0.01

[space.units]
type = "int"
low = 1
high = 64
default = 8

[space.opt]
type = "categorical"
choices = ["sgd", "adam"]

[objective]
metric = "val_loss"
mode = "min"

[budget]
max_concurrent = 16
max_steps = 600

[search]
strategy = "manual"
"""

FIXED_NOW = 1_700_000_000.0


#: A fourth searched parameter with a long name (the 80-column table abbreviates it).
WEIGHT_DECAY = """
[space.weight_decay]
type = "float"
low = 0.000001
high = 0.01
log = true
"""


def write_spec(folder: Path, name: str = "uitest",
               choices: tuple[str, ...] = ("sgd", "adam"), extra_space: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trial.py").write_text(TRIAL_SCRIPT)
    path = folder / "spec.toml"
    listed = ", ".join(f'"{c}"' for c in choices)
    text = SPEC.format(name=name).replace('["sgd", "adam"]', f"[{listed}]")
    path.write_text(text.replace("[objective]", extra_space.lstrip() + "\n[objective]"))
    return path


def fixed_host() -> HostSample:
    return HostSample(cpu_pct=12.0, ncpu=8, ram_used_mb=12_000.0, ram_total_mb=64_000.0)


def screen_text(app) -> str:
    """The current screen as plain text, as a terminal would show it."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False,
                      safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens, simplify=True))
    return console.export_text(styles=False)


def burst(app, *keys: str) -> None:
    """Send keys as one burst, the way a laggy SSH link delivers them: every key event
    is handed to the driver at once, with no wait for the app between them (Pilot's
    `press` lets the app go idle after each key, which hides ordering bugs)."""
    from textual.events import Key
    from textual.keys import _character_to_key

    for key in keys:
        char = key if len(key) == 1 else None
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        event = Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)


async def wait_for(pilot, condition: Callable[[], object], timeout: float = 20.0,
                   what: str = "condition") -> object:
    """Let the app run until `condition()` is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")



async def open_screen(pilot, app, key: str, screen_type: type[T]) -> T:
    """Press `key` and wait until a `screen_type` screen is on top; returns it."""
    await pilot.press(key)
    screen = await wait_for(pilot, lambda: isinstance(app.screen, screen_type) and app.screen,
                            what=f"{screen_type.__name__} after {key}")
    return screen  # type: ignore[return-value]

def read_store(run_dir: Path):
    """A fresh read connection (the test's own), closed by the caller."""
    return RunStore(run_dir)


def new_trial(run_dir: Path, **params) -> int:
    """Start a trial through the engine (as `tuitune new` would); returns its id."""
    client = RunClient(run_dir, actor="test-setup")
    try:
        reply = client.send("new", {"params": params})
    finally:
        client.close()
    assert reply.status == "done", reply
    return int(reply.message.split()[1])


def wait_state(run_dir: Path, trial_id: int, states: set[str], timeout: float = 20.0):
    def reached():
        t = trial(run_dir, trial_id)
        return t if t is not None and t.state in states else None

    return wait_sync(reached, timeout, f"trial {trial_id} to reach {states}")


def _kill_leftovers(run_dir: Path, sup_pid: int | None) -> None:
    """Safety net: SIGKILL the process groups of the run's trials (identity checked)
    and the supervisor (given, or the one the store names if it is still that process)."""
    store = RunStore(run_dir)
    try:
        trials = store.trials()
        meta = store.meta()
    finally:
        store.close()
    if sup_pid is None and meta.get("supervisor_pid") and meta.get("supervisor_start"):
        try:
            proc = psutil.Process(meta["supervisor_pid"])
            if abs(proc.create_time() - meta["supervisor_start"]) < 0.01:
                sup_pid = proc.pid
        except psutil.NoSuchProcess:
            pass
    for t in trials:
        if t.pid and t.pid_start:
            try:
                if abs(psutil.Process(t.pid).create_time() - t.pid_start) < 0.01:
                    os.killpg(t.pid, signal.SIGKILL)
            except (psutil.NoSuchProcess, ProcessLookupError, PermissionError):
                pass
    if sup_pid:
        try:
            os.kill(sup_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class LiveRun:
    """A run with its supervisor process; trials are started by the tests."""

    def __init__(self, run_dir: Path, sup_pid: int) -> None:
        self.run_dir = run_dir
        self.sup_pid = sup_pid

    def supervisor_alive(self) -> bool:
        try:
            proc = psutil.Process(self.sup_pid)
            return proc.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def stop(self) -> None:
        if self.supervisor_alive():
            client = RunClient(self.run_dir, actor="test-teardown")
            try:
                client.send("stop", {}, wait=5.0)
            except Exception:
                pass
            finally:
                client.close()
            deadline = time.monotonic() + 15
            while self.supervisor_alive() and time.monotonic() < deadline:
                time.sleep(0.1)
        _kill_leftovers(self.run_dir, self.sup_pid if self.supervisor_alive() else None)
        try:
            os.waitpid(self.sup_pid, os.WNOHANG)
        except ChildProcessError:
            pass


def start_live_run(root: Path, name: str = "uitest") -> LiveRun:
    spec = load_spec(write_spec(root / "spec", name))
    run_dir = create_run(spec, root / "runs")
    pid = spawn_supervisor(run_dir)
    assert wait_for_supervisor(run_dir, pid), (run_dir / "supervisor.log").read_text()
    return LiveRun(run_dir, pid)


def make_app(run_dir: Path, gpus: int = 2, **kwargs):
    """The app as `run_tui` builds it, with a fake GPU source and quick polling."""
    from tuitune.ui.factory import build_app

    kwargs.setdefault("poll_interval", 0.2)
    kwargs.setdefault("system_interval", 0.5)
    return build_app(run_dir, gpu_source=kwargs.pop("gpu_source", None) or FakeGpuSource(gpus),
                     host=fixed_host, **kwargs)


# -- deterministic runs for snapshots ------------------------------------------------------
class FixedClock:
    def __init__(self, t: float = FIXED_NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def build_fixed_run(root: Path, n_trials: int = 12, points: int = 40,
                    choices: tuple[str, ...] = ("sgd", "adam"),
                    weight_decay: bool = False) -> Path:
    """A run written straight into a store: trials in every state, curves, a tweak,
    a clone, a note, a star. Nothing runs; every value is fixed. `weight_decay`
    adds a fourth searched parameter."""
    clock = FixedClock(FIXED_NOW - 3600)
    spec = load_spec(write_spec(root / "spec", "snapdemo", choices,
                                WEIGHT_DECAY if weight_decay else ""))
    run_dir = create_run(spec, root / "runs", clock=clock)
    store = RunStore(run_dir, clock=clock)
    store.set_meta(started_at=FIXED_NOW - 3000, state="running")
    states = ["running", "running", "running", "completed", "completed", "killed", "failed",
              "paused", "queued", "pruned", "completed", "diverged"]
    for i in range(n_trials):
        params = {"lr": round(0.001 * (i + 1), 4), "units": 8 * (1 + i % 4),
                  "opt": "adam" if i % 2 else "sgd"}
        if weight_decay:
            params["weight_decay"] = 1.234567e-6 * 2.7 ** i
        tid = store.create_trial(params, "manual" if i < 3 else "random", "user")
        state = states[i % len(states)]
        if state == "queued":
            continue
        n = points if state != "running" else points - 5 * (i % 3)
        pts = []
        for s in range(1, n + 1):
            v = 0.3 + 1.0 / math.sqrt(s) + 0.02 * (i % 5) + 0.01 * math.sin(s * (i + 1))
            if state == "diverged" and s == n:
                v = math.nan
            pts += [(s, "val_loss", v, FIXED_NOW - 100), (s, "loss", v * 0.8 - 0.002 * s,
                                                          FIXED_NOW - 100)]
        store.add_metrics(tid, pts)
        store.transition(tid, state, "engine", f"trial {tid} {state}",
                         started_at=FIXED_NOW - 1000 + 30 * i,
                         ended_at=None if state in ("running", "paused") else FIXED_NOW - 200,
                         gpus=str(i % 4) if state in ("running", "paused") else None,
                         peak_gpu_mem_mb=1500.0 + 100 * i, checkpoint_step=n - n % 5 or None)
    # a tweak applied at step 20 of trial 1, a clone of trial 2 from its checkpoint, a note
    cid = store.add_param_change(1, "lr", 0.0005, "user")
    store.ack_param_changes([cid], 20)
    store.add_event("tweak_applied", "trial", "trial 1: lr=0.0005 holds from step 20",
                    trial_id=1)
    clone_params = {"lr": 0.002, "units": 16, "opt": "adam",
                    **({"weight_decay": 3e-4} if weight_decay else {})}
    clone = store.create_trial(clone_params, "clone", "user",
                               parent_id=2, clone_step=25, from_checkpoint=True,
                               message="trial {id} cloned from trial 2 at step 25")
    store.add_metrics(clone, [(s, "val_loss", 0.35 + 1.0 / math.sqrt(s), FIXED_NOW - 100)
                              for s in range(26, 36)])
    store.transition(clone, "running", "engine", f"trial {clone} started",
                     started_at=FIXED_NOW - 120, gpus="1")
    store.update_trial(3, note="lr too high?", starred=1)
    store.update_trial(4, starred=1, protected=1)
    store.close()
    return run_dir


def make_fixed_app(run_dir: Path, gpus: int = 4, **kwargs):
    from tuitune.ui.factory import build_app

    source = FakeGpuSource(gpus, name="Fake A100 80GB", mem_total_mb=81920.0)
    for i in range(gpus):
        source.set_base_memory(i, 4096.0 * (i + 1))
        source.set_util(i, [95.0, 40.0, 72.0, 0.0][i % 4])
    return build_app(run_dir, clock=FixedClock(), gpu_source=source, host=fixed_host,
                     steady=True, poll_interval=60.0, system_interval=60.0, **kwargs)


async def settle(pilot, app) -> None:
    """Wait until the first poll and the first system sample are on screen."""
    await wait_for(pilot, lambda: app.view.loaded and app.view.system is not None,
                   what="the first poll")
    current = getattr(app.screen, "chart_is_current", None)
    if current is not None:  # a throttled chart redraw may still be due
        await wait_for(pilot, current, what="the chart to show the loaded curves")
    await pilot.pause(0.2)


def textwrapped(text: str) -> str:
    return textwrap.dedent(text)
