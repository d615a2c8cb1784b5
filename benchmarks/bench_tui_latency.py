"""Report-to-screen latency: a trial calls `report()`; how long until the value is on
the screen of a real terminal?

Trials (real processes) report a value that reads back unambiguously (step + 0.5)
every 0.3-0.9 s. The TUI runs in a tmux pane at 200x50; the pane is read with
capture-pane as fast as tmux answers, and the first time each value shows in its
trial's "latest" cell is compared with the time `report()` was called (the store
keeps it with the point). A value replaced before it could be drawn (two reports
within one poll) is counted as not shown, not as a latency.

Target: p95 under 1 s (TensorBoard's default reload interval is 30 s).

Run:
    python benchmarks/bench_tui_latency.py [--seconds 40] [--trials 4]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from bench_tui_common import Run, TmuxApp, app_argv, machine, percentile, write_section

from tuitune.store import RunStore

COLS, ROWS = 200, 50
PERIOD = 0.6


def latest_cells(screen: str) -> dict[int, float]:
    """Trial id -> the number in its 'latest' cell, for every row on screen."""
    lines = screen.splitlines()
    head = next((ln for ln in lines if " latest " in f" {ln} " and " id" in ln), None)
    if head is None:
        return {}
    end = head.index("latest") + len("latest")
    start = end - 8
    out: dict[int, float] = {}
    for line in lines:
        ident = line[:6].replace("*", " ").replace("!", " ").strip()
        if not ident.isdigit():
            continue
        try:
            out[int(ident)] = float(line[start:end])
        except ValueError:
            continue
    return out


def measure(seconds: float, trials: int) -> tuple[list[float], int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(Path(tmp), "latency", PERIOD, int(seconds / PERIOD * 2) + 100, trials)
        app = None
        seen: dict[tuple[int, float], float] = {}
        try:
            ids = run.start_trials(trials)
            app = TmuxApp(app_argv(run.run_dir, 4), COLS, ROWS)
            deadline = time.monotonic() + 60
            while not latest_cells(app.screen()) and time.monotonic() < deadline:
                time.sleep(0.1)
            t_start = time.time()
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                now = time.time()
                for tid, value in latest_cells(app.screen()).items():
                    seen.setdefault((tid, value), now)
            t_end = time.time()
            store = RunStore(run.run_dir)
            try:
                points = [p for p in store.metrics(name="score")
                          if p.trial_id in ids and t_start + 1.0 < p.t < t_end - 2.0]
            finally:
                store.close()
        finally:
            if app is not None:
                app.close()
            run.stop()
    latencies = [seen[(p.trial_id, p.value)] - p.t for p in points
                 if (p.trial_id, p.value) in seen]
    return latencies, len(points), len(points) - len(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--trials", type=int, default=4)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is needed (it is the terminal the screen is read from)")
    lat, reported, missed = measure(args.seconds, args.trials)
    p50, p95 = percentile(lat, 50), percentile(lat, 95)
    text = "\n".join([
        "## Report-to-screen latency (bench_tui_latency.py)",
        "",
        f"{args.trials} trials reporting every {PERIOD * 0.5:g}-{PERIOD * 1.5:g} s; the TUI in a "
        f"{COLS}x{ROWS} tmux pane read with capture-pane; {args.seconds:.0f} s. "
        f"Machine: {machine()}.",
        "",
        "| values reported | shown | replaced before shown | p50 | p95 | max |",
        "|---|---|---|---|---|---|",
        f"| {reported} | {len(lat)} | {missed} | {p50:.2f} s | {p95:.2f} s | {max(lat):.2f} s |",
        "",
        "Target: p95 under 1 s. The path: the trial's sink flushes every 0.2 s, the TUI "
        "polls the store every 0.5 s and paints at once; capture-pane adds its own few "
        "milliseconds.",
        "",
        f"Command: `python benchmarks/bench_tui_latency.py --seconds {args.seconds:g} "
        f"--trials {args.trials}`",
    ])
    print(text)
    write_section("bench_tui_latency", text)


if __name__ == "__main__":
    main()
