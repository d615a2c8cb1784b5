"""Shared pieces of the TUI benchmarks (bench_tui_latency/cost/open); not a benchmark.

A run with a real supervisor and real trial processes, the TUI started as its own
process in a pseudo-terminal (every byte it writes is counted) or in tmux (what a
terminal shows is read back), and the results file they share.
"""

from __future__ import annotations

import fcntl
import os
import platform
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import psutil

from tuitune.client.run_client import RunClient
from tuitune.engine.runs import create_run, spawn_supervisor, wait_for_supervisor
from tuitune.core.spec import load_spec
from tuitune.store import RunStore

RESULTS = Path(__file__).resolve().parent / "results" / "tui.md"

TRIAL = """\
import random, sys, time
import tuitune.in_trial.trial as tt

period = float(sys.argv[1])
steps = int(sys.argv[2])
rng = random.Random(tt.trial_id())
for step in range(1, steps + 1):
    tt.apply_tweaks(step=step)
    v = step + 0.5  # a value that reads back unambiguously from the screen
    tt.report(step, score=v, loss=1.0 / step, val_loss=1.2 / step, acc=1 - 1.0 / step)
    if tt.should_stop():
        break
    time.sleep(period * rng.uniform(0.5, 1.5))
"""

SPEC = """\
name = "{name}"
command = ["{{python}}", "trial.py", "{period}", "{steps}"]
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
low = 8
high = 512
default = 64

[objective]
metric = "score"
mode = "max"
secondary = ["loss", "val_loss"]

[budget]
max_concurrent = {concurrent}
max_steps = {steps}

[search]
strategy = "manual"
"""

#: Starts the TUI on a run with N fake GPUs (utilization wandering, as on a busy box)
#: holding the given processes (the trials' own), as if each trial used a GPU.
APP = """\
import sys
from pathlib import Path
from tuitune.system import FakeGpuSource
from tuitune.ui.factory import build_app
n = int(sys.argv[2])
source = FakeGpuSource(n, seed=1, name="Fake A100 80GB", mem_total_mb=81920.0)
pids = [int(p) for p in sys.argv[3].split(",") if p] if len(sys.argv) > 3 else []
for gpu in range(n):
    source.set_processes(gpu, {pid: 9000.0 for pid in pids[gpu::n]})
build_app(Path(sys.argv[1]), gpu_source=source).run(mouse=False)
"""


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {psutil.cpu_count()} cores, "
            f"Python {platform.python_version()}, load average "
            f"{os.getloadavg()[0]:.1f} at the start")


class Run:
    """A run folder, its supervisor, and trials started by hand."""

    def __init__(self, root: Path, name: str, period: float, steps: int,
                 concurrent: int) -> None:
        spec_dir = root / "spec"
        spec_dir.mkdir(parents=True, exist_ok=True)
        (spec_dir / "trial.py").write_text(TRIAL)
        (spec_dir / "spec.toml").write_text(SPEC.format(
            name=name, period=period, steps=steps, concurrent=concurrent))
        self.run_dir = create_run(load_spec(spec_dir / "spec.toml"), root / "runs")
        self.sup = spawn_supervisor(self.run_dir)
        if not wait_for_supervisor(self.run_dir, self.sup):
            raise RuntimeError((self.run_dir / "supervisor.log").read_text())

    def start_trials(self, n: int, timeout: float = 60.0) -> list[int]:
        client = RunClient(self.run_dir, actor="bench")
        try:
            ids = [int(client.send("new", {"params": {}}).message.split()[1]) for _ in range(n)]
        finally:
            client.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            store = RunStore(self.run_dir)
            try:
                states = [store.trial(t).state for t in ids]
            finally:
                store.close()
            if all(s == "running" for s in states):
                return ids
            time.sleep(0.2)
        raise RuntimeError(f"trials did not all start: {states}")

    def stop(self) -> None:
        client = RunClient(self.run_dir, actor="bench")
        try:
            client.send("stop", {}, wait=5.0)
        finally:
            client.close()
        store = RunStore(self.run_dir)
        try:
            trials = store.trials()
        finally:
            store.close()
        for t in trials:  # the engine's stop may leave trials behind (see the report)
            if t.pid and t.pid_start:
                try:
                    if abs(psutil.Process(t.pid).create_time() - t.pid_start) < 0.01:
                        os.killpg(t.pid, signal.SIGKILL)
                except (psutil.NoSuchProcess, ProcessLookupError):
                    pass
        try:
            os.kill(self.sup, signal.SIGKILL)
        except ProcessLookupError:
            pass


class PtyApp:
    """The TUI in a pseudo-terminal of a given size; a thread drains and counts its output."""

    def __init__(self, argv: list[str], cols: int, rows: int, env: dict[str, str] | None = None):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        full_env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor", **(env or {}))
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     env=full_env, start_new_session=True)
        os.close(slave)
        self.master = master
        self.lock = threading.Lock()
        self.total = 0
        self.chunks: list[tuple[float, bytes]] = []
        self.keep = False
        self._stop = False
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while not self._stop:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.total += len(data)
                if self.keep:
                    self.chunks.append((time.monotonic(), data))

    def counted(self) -> int:
        with self.lock:
            return self.total

    def cpu_seconds(self) -> float:
        t = psutil.Process(self.proc.pid).cpu_times()
        return t.user + t.system

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stop = True
        self.thread.join(timeout=2)
        os.close(self.master)


class TmuxApp:
    """The TUI in a tmux pane of our own tmux server; `screen()` reads the pane."""

    def __init__(self, argv: list[str], cols: int, rows: int) -> None:
        self.base = ["tmux", "-L", f"tuitune-bench-{os.getpid()}"]
        command = " ".join(_quote(a) for a in argv)
        subprocess.run([*self.base, "new-session", "-d", "-s", "b", "-x", str(cols), "-y",
                        str(rows), f"env TERM=xterm-256color {command}"], check=True)

    def screen(self) -> str:
        return subprocess.run([*self.base, "capture-pane", "-p", "-t", "b"], check=True,
                              capture_output=True, text=True).stdout

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True)


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\"'\"'") + "'"


def app_argv(run_dir: Path, gpus: int, pids: list[int] | None = None) -> list[str]:
    return [sys.executable, "-c", APP, str(run_dir), str(gpus),
            ",".join(map(str, pids or []))]


def trial_pids(run_dir: Path) -> list[int]:
    """The trial processes themselves (the launchers' children), one per running trial."""
    store = RunStore(run_dir)
    try:
        trials = store.trials(["running"])
    finally:
        store.close()
    out = []
    for t in trials:
        try:
            kids = psutil.Process(t.pid).children()
        except psutil.NoSuchProcess:
            continue
        out.append(kids[0].pid if kids else t.pid)
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def write_section(name: str, markdown: str) -> None:
    """Replace this benchmark's section of results/tui.md (the others stay)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    text = RESULTS.read_text() if RESULTS.exists() else (
        "# TUI benchmarks\n\nMeasured numbers; docs/benchmarks.md discusses them.\n")
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else (
        text.rstrip() + "\n\n" + block + "\n")
    RESULTS.write_text(text)
