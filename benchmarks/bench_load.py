"""Load test: many concurrent trials flooding metrics, through the real supervisor.

Each trial reports `--metrics` metrics `--rate` times a second (50 points/s with the
defaults) for `--seconds`, through the in-trial API, then writes how many points it
reported. We compare points written with points stored, and measure the supervisor's
CPU (process CPU time over the run's wall time). With --tui, the TUI is attached in a
real terminal (tmux) during the load and its report-to-screen latency is measured
(see bench_tui_latency.py for the method).

    python benchmarks/bench_load.py --trials 64 --seconds 60
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil

from tuitune.client.run_client import RunClient
from tuitune.engine.runs import create_run, spawn_supervisor, wait_for_supervisor
from tuitune.core.spec import load_spec
from tuitune.store import RunStore

TRIAL = """
import json, os, sys, time
import tuitune.in_trial.trial as tt
rate, seconds, metrics = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
sent, step, t0 = 0, 0, time.monotonic()
while time.monotonic() - t0 < seconds:
    step += 1
    tt.report(step, **{f"m{i}": step * 0.001 + i for i in range(metrics)})
    sent += metrics
    time.sleep(max(0.0, t0 + step / rate - time.monotonic()))
tt.flush()
with open(os.path.join(os.environ["TUITUNE_TRIAL_DIR"], "sent.txt"), "w") as fh:
    fh.write(str(sent))
"""

SPEC = """
name = "load"
command = ["{{python}}", "trial.py", "{rate}", "{seconds}", "{metrics}"]
[space.x]
type = "float"
low = 0.0
high = 1.0
[objective]
metric = "m0"
[budget]
max_concurrent = {trials}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--rate", type=float, default=10, help="reports per second per trial")
    ap.add_argument("--metrics", type=int, default=5, help="metrics per report")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "trial.py").write_text(textwrap.dedent(TRIAL))
        (folder / "load.toml").write_text(SPEC.format(rate=args.rate, seconds=args.seconds,
                                                      metrics=args.metrics, trials=args.trials))
        run_dir = create_run(load_spec(folder / "load.toml"), folder / "runs")
        pid = spawn_supervisor(run_dir)
        assert wait_for_supervisor(run_dir, pid)
        sup = psutil.Process(pid)
        client = RunClient(run_dir)
        for i in range(args.trials):
            client.store.enqueue_command("new", {"params": {"x": i / args.trials}}, "bench")
        store = RunStore(run_dir)
        while store.count_trials(["running"]) < args.trials:
            time.sleep(0.1)
        cpu0, t0 = sup.cpu_times(), time.monotonic()
        while store.count_trials(["running", "queued"]) > 0:
            time.sleep(0.5)
        cpu1, wall = sup.cpu_times(), time.monotonic() - t0
        sent = sum(int((run_dir / "trials" / str(t.id) / "sent.txt").read_text())
                   for t in store.trials())
        stored = store.count_metrics()
        states = {t.state for t in store.trials()}
        client.send("stop", {})
        sup_cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / wall * 100
        print(f"command: python benchmarks/bench_load.py --trials {args.trials} --seconds "
              f"{args.seconds:g} --rate {args.rate:g} --metrics {args.metrics}  "
              f"(cores: {os.cpu_count()})\n")
        print("| trials | points/s offered | points written | points stored | "
              "supervisor CPU (% of one core) | trial states |")
        print("|---:|---:|---:|---:|---:|---|")
        print(f"| {args.trials} | {args.trials * args.rate * args.metrics:,.0f} | {sent:,} | "
              f"{stored:,} | {sup_cpu:.1f} | {', '.join(sorted(states))} |")
        if sent != stored:
            sys.exit(f"LOST POINTS: {sent - stored}")


if __name__ == "__main__":
    main()
