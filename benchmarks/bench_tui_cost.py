"""What the TUI costs while it watches: its own CPU and the bytes it writes to the
terminal per second, at 200x50 with 16 running trials and 4 (fake) GPUs.

The TUI runs as its own process in a pseudo-terminal; a thread reads every byte it
writes (what an SSH link would carry). The trials are real processes reporting
through the in-trial API; the fake GPUs' utilization wanders, so the GPU
sparklines move every second as they would on a busy box.

Targets: under 3% of one core, under 20 KB/s.

Run:
    python benchmarks/bench_tui_cost.py [--seconds 30] [--period 1.0 --period 0.1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench_tui_common import PtyApp, Run, app_argv, machine, trial_pids, write_section

COLS, ROWS = 200, 50
TRIALS, GPUS = 16, 4
WARMUP_S = 8.0


def measure(period: float, seconds: float) -> dict[str, float]:
    steps = int((seconds + WARMUP_S + 60) / period)
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(Path(tmp), "cost", period, steps, TRIALS)
        app = None
        try:
            run.start_trials(TRIALS)
            app = PtyApp(app_argv(run.run_dir, GPUS, trial_pids(run.run_dir)), COLS, ROWS)
            time.sleep(WARMUP_S)
            bytes0, cpu0, t0 = app.counted(), app.cpu_seconds(), time.monotonic()
            time.sleep(seconds)
            bytes1, cpu1, t1 = app.counted(), app.cpu_seconds(), time.monotonic()
            assert app.proc.poll() is None, "the TUI exited during the measurement"
        finally:
            if app is not None:
                app.close()
            run.stop()
    elapsed = t1 - t0
    return {"period": period, "cpu_pct": 100.0 * (cpu1 - cpu0) / elapsed,
            "bytes_per_s": (bytes1 - bytes0) / elapsed, "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--period", type=float, action="append",
                        help="seconds between a trial's reports (repeatable; default 1 and 0.1)")
    args = parser.parse_args()
    periods = args.period or [1.0, 0.1]
    rows = []
    for period in periods:
        r = measure(period, args.seconds)
        print(f"period {period}s: cpu {r['cpu_pct']:.2f}%  {r['bytes_per_s'] / 1000:.2f} KB/s",
              flush=True)
        rows.append(r)
    lines = [
        "## Cost while watching (bench_tui_cost.py)",
        "",
        f"{COLS}x{ROWS} pseudo-terminal, {TRIALS} running trials (4 metrics per report), "
        f"{GPUS} fake GPUs with wandering utilization holding the trials' processes (4 "
        f"each, so every sample attributes them), {args.seconds:.0f} s measured after "
        f"{WARMUP_S:.0f} s of warm-up. Machine: {machine()}.",
        "",
        "| reports per trial | TUI CPU (% of one core) | bytes to the terminal |",
        "|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| every {r['period']:g} s (x0.5-1.5 jitter) | {r['cpu_pct']:.2f}% | "
                     f"{r['bytes_per_s'] / 1000:.2f} KB/s |")
    lines += ["", "Targets: under 3% of one core; under 20 KB/s.", "",
              "Command: `python benchmarks/bench_tui_cost.py --seconds "
              f"{args.seconds:g}" + "".join(f" --period {p:g}" for p in periods) + "`"]
    text = "\n".join(lines)
    print(text)
    write_section("bench_tui_cost", text)


if __name__ == "__main__":
    main()
