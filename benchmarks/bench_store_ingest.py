"""Store ingestion rate: N trial processes report through the real in-trial API
(tuitune.in_trial.trial.report -> batched SqliteSink -> the run's SQLite store) as fast as
they can; we count points stored per second of wall time, and check none is lost.

    python benchmarks/bench_store_ingest.py --writers 32 --points 20000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tuitune.store import RunStore

WRITER = """
import sys, time
import tuitune.in_trial.trial as tt
n, per_step = int(sys.argv[1]), int(sys.argv[2])
sys.stdin.readline()  # start together
for step in range(n // per_step):
    tt.report(step, **{f"m{i}": step * 0.5 for i in range(per_step)})
tt.flush()
"""


def run(writers: int, points: int, per_step: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(tmp, create=True)
        ids = [store.create_trial({}, "bench", "bench") for _ in range(writers)]
        db = str(Path(tmp) / "store.db")
        procs = []
        for tid in ids:
            env = dict(os.environ, TUITUNE_STORE=db, TUITUNE_TRIAL_ID=str(tid))
            procs.append(subprocess.Popen([sys.executable, "-c", WRITER, str(points),
                                           str(per_step)], stdin=subprocess.PIPE, env=env,
                                          text=True))
        time.sleep(2.0)  # let every interpreter start
        t0 = time.perf_counter()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:
            p.wait()
        wall = time.perf_counter() - t0
        stored = store.count_metrics()
        expected = writers * (points // per_step) * per_step
        return {"writers": writers, "expected": expected, "stored": stored, "wall_s": wall,
                "points_per_s": stored / wall}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--writers", type=int, default=32)
    ap.add_argument("--points", type=int, default=20000, help="points per writer")
    ap.add_argument("--per-step", type=int, default=4, help="metrics per report() call")
    args = ap.parse_args()
    print(f"command: python benchmarks/bench_store_ingest.py --writers {args.writers} "
          f"--points {args.points} --per-step {args.per_step}  (cores: {os.cpu_count()})\n")
    print("| writer processes | points written | points stored | wall s | points/s |")
    print("|---:|---:|---:|---:|---:|")
    for writers in sorted({1, 8, args.writers}):
        r = run(writers, args.points, args.per_step)
        print(f"| {writers} | {r['expected']:,} | {r['stored']:,} | {r['wall_s']:.2f} | "
              f"{r['points_per_s']:,.0f} |", flush=True)
        assert r["stored"] == r["expected"], "points were lost"


if __name__ == "__main__":
    main()
