"""What keeping metric summaries costs a writer: CPU time of `RunStore.add_metrics` per
point on a store that keeps them (schema 2) and on one that does not (schema 1, the
same code skips the summary), alternated in one process so that the machine's load
hits both alike. Batches of one report (4 metrics) up to what a trial's sink flushes
at once when it reports fast.

    python benchmarks/bench_store_summary_cost.py [--points 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from tuitune.store import RunStore

METRICS = ("loss", "val_loss", "acc", "lr")


def _store(folder: Path, summaries: bool) -> RunStore:
    folder.mkdir()
    RunStore(folder, create=True).close()
    if not summaries:  # a store from before summaries were kept
        conn = sqlite3.connect(folder / "store.db")
        conn.execute("DROP TABLE metric_summary")
        conn.execute("PRAGMA user_version = 1")
        conn.commit()
        conn.close()
    store = RunStore(folder)
    assert store.summarized == summaries
    store.create_trial({}, "bench", "bench")
    return store


def _cpu_per_point(store: RunStore, points: int, batch: int, first_step: int) -> float:
    steps = batch // len(METRICS)
    n = 0
    cpu = time.process_time()
    for b in range(points // batch):
        base = first_step + b * steps
        store.add_metrics(1, [(base + s, m, 1.0 / (base + s + 1), 0.0)
                              for s in range(steps) for m in METRICS])
        n += steps * len(METRICS)
    return (time.process_time() - cpu) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200_000, help="points per measurement")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"command: python benchmarks/bench_store_summary_cost.py --points {args.points} "
          f"--rounds {args.rounds}  (load average {os.getloadavg()[0]:.1f} at the start)\n")
    print("| points per transaction | without summaries, us/point | with, us/point | ratio |")
    print("|---:|---:|---:|---:|")
    for batch in (4, 40, 400, 4000):
        points = min(args.points, batch * 20_000)
        with tempfile.TemporaryDirectory() as tmp:
            stores = {k: _store(Path(tmp) / str(k), k) for k in (False, True)}
            cost: dict[bool, list[float]] = {False: [], True: []}
            for r in range(args.rounds):
                for kept in (False, True) if r % 2 == 0 else (True, False):
                    cost[kept].append(_cpu_per_point(stores[kept], points, batch,
                                                     r * points))
            for store in stores.values():
                store.close()
        without, with_ = statistics.median(cost[False]), statistics.median(cost[True])
        print(f"| {batch:,} | {without:.2f} | {with_:.2f} | {with_ / without:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
