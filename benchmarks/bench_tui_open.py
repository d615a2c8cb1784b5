"""Time to open the TUI on a run of 1,000 trials x 1,000 points.

The run is written straight into a store: 1,000 finished trials, each with 1,000
steps of two metrics (the objective and a training loss: 2M points), their
creation and end events. Measured twice:

- in process (`App.run_test` at 200x50): from building the app to (a) the table
  showing trials and (b) every visible row showing its values and sparkline;
- cold: a new process in a 200x50 pseudo-terminal, until the bytes it wrote contain
  the first row's sparkline (so the Python and Textual imports count too), with its
  CPU time then: `python -c` building the app (a fake GPU source), and
  `tuitune attach` as a user starts it (the CLI, NVML, no supervisor to start: the
  run is finished).

Target: under 2 s.

Run:
    python benchmarks/bench_tui_open.py [--trials 1000] [--points 1000] [--repeat 3]
        [--keep DIR]   (reuse or keep the generated run there)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_tui_common import PtyApp, machine, write_section

from tuitune.engine.runs import create_run, list_runs
from tuitune.core.spec import load_spec
from tuitune.store import RunStore
from tuitune.ui.model import SPARK_CELLS
from tuitune.ui.series import buckets, sparkline

COLS, ROWS = 200, 50
SPEC = """\
name = "open-bench"
command = ["{python}", "trial.py", "--lr", "{lr}"]

[space.lr]
type = "float"
low = 0.0001
high = 1.0
log = true
mutable = true

[space.units]
type = "int"
low = 8
high = 512

[space.dropout]
type = "float"
low = 0.0
high = 0.5

[objective]
metric = "val_loss"
mode = "min"

[budget]
max_trials = 1000
max_steps = 1000
"""


def curve(trial_id: int, points: int) -> list[float]:
    rng = random.Random(trial_id)
    base, rate = rng.random(), rng.uniform(0.3, 0.7)
    return [base + 1.0 / s**rate + 0.01 * rng.random() for s in range(1, points + 1)]


def generate(root: Path, trials: int, points: int) -> Path:
    spec_dir = root / "spec"
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "trial.py").write_text("print('not run')\n")
    (spec_dir / "spec.toml").write_text(SPEC)
    run_dir = create_run(load_spec(spec_dir / "spec.toml"), root / "runs")
    store = RunStore(run_dir)
    now = time.time()
    rng = random.Random(0)
    for _ in range(trials):
        tid = store.create_trial({"lr": 10 ** rng.uniform(-4, 0), "units": rng.randint(8, 512),
                                  "dropout": rng.random() / 2}, "random", "search")
        store.transition(tid, "completed", "engine", f"trial {tid} completed",
                         started_at=now - 3600, ended_at=now - 60)
        values = curve(tid, points)
        store.add_metrics(tid, [p for s, v in enumerate(values, 1)
                                for p in ((s, "val_loss", v, now), (s, "loss", 0.9 * v, now))])
    store.set_meta(started_at=now - 3600, state="finished")
    store.close()
    return run_dir


async def _in_process(run_dir: Path) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds from building the app to each stage of opening."""
    from tuitune.system import FakeGpuSource
    from tuitune.ui.factory import build_app

    started, cpu0 = time.perf_counter(), time.process_time()
    app = build_app(run_dir, gpu_source=FakeGpuSource(4))
    marks: dict[str, tuple[float, float]] = {}

    def mark(name: str) -> None:
        if name not in marks:
            marks[name] = (time.perf_counter() - started, time.process_time() - cpu0)

    async with app.run_test(size=(COLS, ROWS)) as pilot:
        while not {"all", "visible"} <= set(marks):
            await pilot.pause(0.01)
            table = app.screen.query("TrialTable")
            shown = list(table.first().shown) if table else []  # the rows on screen
            rows = app.view.rows
            if shown:
                mark("rows")
            if shown and all(rows[t].spark is not None and rows[t].best is not None
                             for t in shown):
                mark("visible")
            header = app.view.header
            # Every trial's best known (every trial here has points): the header's
            # best, sorting by best.
            if (header and header.best is not None and rows
                    and all(r.best is not None for r in rows.values())):
                mark("all")
            if time.perf_counter() - started > 300:
                raise RuntimeError("the app did not finish opening in 300 s")
    return marks


def _cold(run_dir: Path, argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of a new process until the first row's sparkline is written."""
    expected = sparkline(buckets(curve(1, _points(run_dir)), SPARK_CELLS), SPARK_CELLS)
    needle = expected.strip().encode()
    app = PtyApp(argv, COLS, ROWS)
    app.keep = True
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with app.lock:
                data = b"".join(c for _, c in app.chunks)
            if needle in data:
                return time.monotonic() - app.started, app.cpu_seconds()
            time.sleep(0.005)
        raise RuntimeError("the first row's sparkline never showed")
    finally:
        app.close()


def _points(run_dir: Path) -> int:
    store = RunStore(run_dir)
    try:
        return len(store.curve(1, "val_loss"))
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="generate the run here, or reuse it")
    args = parser.parse_args()
    tmp = None
    root = args.keep
    if root is None:
        tmp = tempfile.TemporaryDirectory()
        root = Path(tmp.name)
    existing = list_runs(root / "runs") if (root / "runs").exists() else []
    if existing:
        run_dir = existing[0]
    else:
        t = time.perf_counter()
        run_dir = generate(root, args.trials, args.points)
        print(f"generated {args.trials} x {args.points} in {time.perf_counter() - t:.0f} s",
              flush=True)
    store = RunStore(run_dir)
    n_trials, n_points = len(store.trials()), store.count_metrics()
    store.close()
    stages: dict[str, list[tuple[float, float]]] = {
        "rows": [], "visible": [], "all": [], "cold": [], "attach": []}
    from bench_tui_common import app_argv

    attach = [sys.executable, "-m", "tuitune", "--root", str(run_dir.parent), "attach",
              run_dir.name]
    for _ in range(args.repeat):
        marks = asyncio.run(_in_process(run_dir))
        marks["cold"] = _cold(run_dir, app_argv(run_dir, 4))
        marks["attach"] = _cold(run_dir, attach)
        for name, value in marks.items():
            stages[name].append(value)
        print("  ".join(f"{k} {w:.2f} s (cpu {c:.2f})" for k, (w, c) in marks.items()),
              flush=True)
    if tmp is not None:
        tmp.cleanup()

    def fmt(xs: list[float]) -> str:
        return f"{statistics.median(xs):.2f} s (max {max(xs):.2f})"

    def stage(name: str) -> str:
        if not stages[name]:
            return "not reached | -"
        wall = [w for w, _ in stages[name]]
        cpu = [c for _, c in stages[name]]
        return f"{fmt(wall)} | {statistics.median(cpu):.2f} s"

    text = "\n".join([
        "## Time to open (bench_tui_open.py)",
        "",
        f"A run of {n_trials} finished trials and {n_points:,} points "
        f"({n_points // max(n_trials, 1)} per trial: the objective and a training loss at "
        f"each of {args.points} steps), "
        f"opened at {COLS}x{ROWS}; median of {args.repeat}. Machine: {machine()}.",
        "",
        "| from building the app (or starting the process) until | wall time "
        "| CPU time (all threads) |",
        "|---|---|---|",
        f"| the table shows the trials | {stage('rows')} |",
        f"| every row on screen has its values and sparkline | {stage('visible')} |",
        f"| every trial's latest and best value (header best, sorting) | {stage('all')} |",
        f"| cold `python -c` in a pty, until the first sparkline is written | {stage('cold')} |",
        f"| cold `tuitune attach` in a pty, the same | {stage('attach')} |",
        "",
        "Target: under 2 s. Opening reads the trials with every trial's latest and best "
        "value (the per-trial summaries the store keeps as points arrive) in one snapshot, "
        "then the whole curves of the rows on screen through the index. Wall time depends "
        "on how busy the machine is; CPU time much less.",
        "",
        f"Command: `python benchmarks/bench_tui_open.py --trials {args.trials} --points "
        f"{args.points} --repeat {args.repeat}`",
    ])
    print(text)
    write_section("bench_tui_open", text)


if __name__ == "__main__":
    main()
