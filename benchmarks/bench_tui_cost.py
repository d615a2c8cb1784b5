"""What the TUI costs while it watches: its own CPU and the bytes it writes to the
terminal per second, at 200x50 with 16 running trials and 4 (fake) GPUs.

The TUI runs as its own process in a pseudo-terminal; a thread reads every byte it
writes (what an SSH link would carry). The trials are real processes reporting
through the in-trial API; the fake GPUs' utilization wanders, so the GPU
sparklines move every second as they would on a busy box.

Targets: under 3% of one core, under 20 KB/s.

With `--insight`, the same with the insight screen open (key `i` after the warm-up)
against the run screen, back to back per period (issue 15: the TUI's CPU while the
insight screen is open and trials report stays within the run screen's).

Run:
    python benchmarks/bench_tui_cost.py [--seconds 30] [--period 1.0 --period 0.1]
    python benchmarks/bench_tui_cost.py --insight [--seconds 30] [--period 1.0]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import psutil
from bench_tui_common import PtyApp, Run, app_argv, machine, trial_pids, write_section

COLS, ROWS = 200, 50
TRIALS, GPUS = 16, 4
WARMUP_S = 8.0


def _thread_times(pid: int) -> dict[int, float]:
    return {t.id: t.user_time + t.system_time for t in psutil.Process(pid).threads()}


def measure(period: float | None, seconds: float, insight: bool = False) -> dict[str, float]:
    """period None: no trial runs (the idle baseline); insight: the insight screen open."""
    steps = int((seconds + WARMUP_S + 60) / (period or 1.0))
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(Path(tmp), "cost", period or 1.0, steps, TRIALS)
        app = None
        try:
            if period is not None:
                run.start_trials(TRIALS)
            app = PtyApp(app_argv(run.run_dir, GPUS, trial_pids(run.run_dir)), COLS, ROWS)
            time.sleep(WARMUP_S)
            if insight:
                os.write(app.master, b"i")
                time.sleep(WARMUP_S / 2)  # its worker's first answer is not the steady cost
            pid = app.proc.pid
            bytes0, cpu0, t0 = app.counted(), app.cpu_seconds(), time.monotonic()
            threads0 = _thread_times(pid)
            time.sleep(seconds)
            bytes1, cpu1, t1 = app.counted(), app.cpu_seconds(), time.monotonic()
            threads1 = _thread_times(pid)
            assert app.proc.poll() is None, "the TUI exited during the measurement"
        finally:
            if app is not None:
                app.close()
            run.stop()
    elapsed = t1 - t0
    main = threads1.get(pid, 0.0) - threads0.get(pid, 0.0)
    return {"period": period, "cpu_pct": 100.0 * (cpu1 - cpu0) / elapsed,
            "main_pct": 100.0 * main / elapsed,
            "bytes_per_s": (bytes1 - bytes0) / elapsed, "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--period", type=float, action="append",
                        help="seconds between a trial's reports (repeatable; default 1 and 0.1)")
    parser.add_argument("--insight", action="store_true",
                        help="the run screen against the insight screen, back to back")
    args = parser.parse_args()
    if args.insight:
        insight_rows(args.seconds, args.period or [1.0])
        return
    periods = args.period or [1.0, 0.1]
    rows = []
    for period in [None, *periods]:
        r = measure(period, args.seconds)
        print(f"period {period}s: cpu {r['cpu_pct']:.2f}% (drawing {r['main_pct']:.2f}%)  "
              f"{r['bytes_per_s'] / 1000:.2f} KB/s", flush=True)
        rows.append(r)
    lines = [
        "## Cost while watching (bench_tui_cost.py)",
        "",
        f"{COLS}x{ROWS} pseudo-terminal, {TRIALS} running trials (4 metrics per report), "
        f"{GPUS} fake GPUs with wandering utilization holding the trials' processes (4 "
        f"each, so every sample attributes them), {args.seconds:.0f} s measured after "
        f"{WARMUP_S:.0f} s of warm-up. Machine: {machine()}.",
        "",
        "| trials | TUI CPU (% of one core) | of which the UI thread | bytes to the terminal |",
        "|---|---|---|---|",
    ]
    for r in rows:
        what = ("none running (baseline)" if r["period"] is None
                else f"16 reporting every {r['period']:g} s (x0.5-1.5)")
        lines.append(f"| {what} | {r['cpu_pct']:.2f}% | {r['main_pct']:.2f}% | "
                     f"{r['bytes_per_s'] / 1000:.2f} KB/s |")
    lines += ["", "Targets: under 3% of one core; under 20 KB/s. The rest of the CPU is the "
              "store poller (2 Hz), the system sampler (1 Hz, walking every trial's process "
              "tree) and Textual's input thread. All trials are in their "
              "first minute, so every row's elapsed time changes each second (later it "
              "changes each minute): the worst case for the table.", "",
              "Command: `python benchmarks/bench_tui_cost.py --seconds "
              f"{args.seconds:g}" + "".join(f" --period {p:g}" for p in periods) + "`"]
    text = "\n".join(lines)
    print(text)
    write_section("bench_tui_cost", text)


def insight_rows(seconds: float, periods: list[float]) -> None:
    lines = [
        "## Cost with the insight screen open (bench_tui_cost.py --insight)",
        "",
        f"As above ({COLS}x{ROWS}, {TRIALS} running trials reporting, {GPUS} fake GPUs); "
        f"each period measured on the run screen and then, in a new run, with the "
        f"insight screen open (`i` after {WARMUP_S:.0f} s, measured from "
        f"{WARMUP_S / 2:.0f} s later), {seconds:.0f} s each. No trial finishes during the "
        f"measurement, so the insight is computed once (its worker's cost when a trial "
        f"finishes is in insight.md). Machine: {machine()}.",
        "",
        "| trials | screen | TUI CPU (% of one core) | of which the UI thread | "
        "bytes to the terminal |",
        "|---|---|---|---|---|",
    ]
    for period in periods:
        for insight in (False, True):
            r = measure(period, seconds, insight)
            screen = "insight" if insight else "run"
            print(f"period {period}s {screen}: cpu {r['cpu_pct']:.2f}% (drawing "
                  f"{r['main_pct']:.2f}%)  {r['bytes_per_s'] / 1000:.2f} KB/s", flush=True)
            lines.append(f"| 16 reporting every {period:g} s (x0.5-1.5) | {screen} | "
                         f"{r['cpu_pct']:.2f}% | {r['main_pct']:.2f}% | "
                         f"{r['bytes_per_s'] / 1000:.2f} KB/s |")
    lines += ["", "Command: `python benchmarks/bench_tui_cost.py --insight --seconds "
              f"{seconds:g}" + "".join(f" --period {p:g}" for p in periods) + "`"]
    text = "\n".join(lines)
    print(text)
    write_section("bench_tui_cost_insight", text)


if __name__ == "__main__":
    main()
