"""Escaping daemons: how many of a trial's processes outlive `kill` or `stop`.

Runs the drill of tests/engine/escape_drill.py: each repetition's trial double-forks
a setsid daemon that ignores SIGTERM at a random moment 0-0.5 s before it is ended
(by `kill` or `stop`; half the trials ignore SIGTERM too), and /proc is walked for
any process of the trial still alive after it was recorded ended.

    python benchmarks/bench_escapes.py --repetitions 50
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.engine.escape_drill import repeat  # noqa: E402
from tuitune.executors import cgroup  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repetitions", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--latest-birth", type=float, default=0.5,
                    help="daemons are born 0 to this many seconds before the end")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        os.environ["TUITUNE_HOME"] = str(home)
        reps = repeat(Path(tmp), home, args.repetitions, args.seed, args.latest_birth)
    switch = os.environ.get("TUITUNE_CGROUPS")
    with tempfile.TemporaryDirectory() as probe:
        usable = cgroup.create(Path(probe)) is not None
        cgroup.remove(probe)
    prefix = f"TUITUNE_CGROUPS={switch} " if switch is not None else ""
    print(f"command: {prefix}python benchmarks/bench_escapes.py --repetitions "
          f"{args.repetitions} --seed {args.seed} --latest-birth {args.latest_birth}  (cores: {os.cpu_count()}; a cgroup per "
          f"trial: {'yes' if usable else 'no'})\n")
    print("| ended by | trial ignores SIGTERM | repetitions | daemons born | processes left |")
    print("|---|---|---:|---:|---:|")
    groups = Counter((r.action, r.ignores_term) for r in reps)
    for (action, ignores), n in sorted(groups.items()):
        mine = [r for r in reps if (r.action, r.ignores_term) == (action, ignores)]
        born = sum(len(r.daemons) for r in mine)
        left = sum(len(r.survivors) for r in mine)
        print(f"| {action} | {'yes' if ignores else 'no'} | {n} | {born} | {left} |")
    total_left = sum(len(r.survivors) for r in reps)
    print(f"\n{sum(len(r.daemons) for r in reps)} daemons born in {len(reps)} repetitions, "
          f"{total_left} processes left alive")
    for r in reps:
        if r.survivors:
            print(f"escaped: {r.action}, ignores SIGTERM {r.ignores_term}, daemon asked "
                  f"{r.daemon_delay:.3f} s after go: pids {r.survivors}")
            for pid in r.survivors:  # leave nothing behind
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass


if __name__ == "__main__":
    main()
