"""Benchmark: points lost on a full disk (issue 12.11), under the real fault.

Each round puts TUITUNE_HOME on a fresh tmpfs, starts a real run (supervisor detached
as `tuitune run` starts it, trials through launchers) whose trials count the points
they report in a file outside the tmpfs, fills the tmpfs to the last byte once every
trial reports, and frees it `--full-for` seconds later. Two scenarios:

- `space back while running`: trials still report when space returns;
- `trials end while full`: every trial has reported its last point before space
  returns (its exit then waits for the disk, up to 60 s).

It prints a markdown table: points reported (the trials' own counts), points stored,
lost, trials recorded completed, and how the supervisor finished. Needs root (mount).

    python benchmarks/bench_full_disk.py [--rounds 3] [--trials 8] [--points 7500]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.engine.full_disk_drill import fill, mount_tmpfs, start, unmount  # noqa: E402
from tuitune.store import RunStore  # noqa: E402

SCENARIOS = {  # name: per-step sleep (s); both report 2 points per step
    "space back while running": 0.004,
    "trials end while full": 0.0005,
}


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:  # noqa: S110 - the store or a count file is mid-write: ask again
            pass
        time.sleep(0.1)
    return False


def one_round(scenario: str, trials: int, points: int, full_for: float) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="tuitune-full-disk-"))
    mnt = folder / "disk"
    why_not = mount_tmpfs(mnt, "32m")
    if why_not:
        sys.exit(f"tuitune bench: {why_not}")
    os.environ["TUITUNE_HOME"] = str(mnt)
    started = time.monotonic()
    try:
        drill = start(folder, trials, steps=points // 2, sleep=SCENARIOS[scenario])
        if not wait_until(lambda: drill.reporting(20), 60):
            sys.exit("tuitune bench: the trials did not start reporting")
        filler = fill(mnt)
        filled = time.monotonic()
        ended_while_full = None
        if scenario == "trials end while full":
            wait_until(lambda: sum(drill.reported().values()) == trials * points, 120)
            ended_while_full = sum(drill.reported().values()) == trials * points
        time.sleep(max(0.0, full_for - (time.monotonic() - filled)))
        still_reporting = sum(drill.reported().values()) < trials * points
        filler.unlink()
        wait_until(drill.supervisor_gone, 180)
        store = RunStore(drill.run_dir)
        try:
            meta = store.meta()
            states = [t.state for t in store.trials()]
        finally:
            store.close()
        reported, stored = sum(drill.reported().values()), sum(drill.stored().values())
        return {"scenario": scenario, "reported": reported, "stored": stored,
                "lost": reported - stored,
                "completed": f"{states.count('completed')}/{len(states)}",
                "finished": meta.get("finished_reason") or f"not finished ({meta.get('state')})",
                "full": f"{full_for:.0f}",
                "while": "ended" if ended_while_full else (
                    "reporting" if still_reporting else "ended"),
                "wall": time.monotonic() - started}
    finally:
        unmount(mnt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--points", type=int, default=7500, help="points per trial")
    parser.add_argument("--full-for", type=float, default=9.0, help="seconds the disk is full")
    args = parser.parse_args()
    print("| scenario | round | disk full (s) | trials when space returned | points reported "
          "| points stored | lost | trials completed | supervisor finished | wall s |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---|---:|")
    for scenario in SCENARIOS:
        for n in range(1, args.rounds + 1):
            r = one_round(scenario, args.trials, args.points, args.full_for)
            print(f"| {r['scenario']} | {n} | {r['full']} | {r['while']} | {r['reported']:,} "
                  f"| {r['stored']:,} | {r['lost']:,} | {r['completed']} | {r['finished']} "
                  f"| {r['wall']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
