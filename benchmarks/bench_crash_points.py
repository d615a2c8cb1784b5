"""Crash points: SIGKILL the supervisor at every named step, resume, count what ran twice.

    python benchmarks/bench_crash_points.py [--rounds N] [--points start.spawned,end.termed]

Runs the crash-point matrix of tests/engine/test_engine_crash.py (every point of
tuitune/engine/crash_points.py, real processes, real SIGKILL, `tuitune resume`) N
times. Besides each test's verdict, it counts from the run folders the tests leave
behind: (trial, step, metric) points stored more than once, and trials whose log shows
more than one process start. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tuitune.engine.crash_points import POINTS  # noqa: E402

TEST = "tests/engine/test_engine_crash.py::test_supervisor_killed_at_each_step_loses_nothing_and_runs_nothing_twice"


def _count(run_dir: Path) -> tuple[int, int]:
    """(duplicate points, extra starts) in one run folder."""
    conn = sqlite3.connect(f"file:{run_dir / 'store.db'}?mode=ro", uri=True)
    try:
        dup = conn.execute("SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) n FROM metrics"
                           " GROUP BY trial_id, step, name HAVING n > 1)").fetchone()[0]
    finally:
        conn.close()
    extra = 0
    for log in (run_dir / "trials").glob("*/log.txt"):
        starts = len(re.findall(r"^START \d+$", log.read_text(errors="replace"), re.M))
        extra += max(starts - 1, 0)
    return int(dup), extra


def run_round(points: list[str], basetemp: Path) -> dict[str, tuple[str, int, int]]:
    selected = [f"{TEST}[{p}]" for p in points]
    out = subprocess.run([sys.executable, "-m", "pytest", *selected, "-q", "-rA",
                          "-p", "no:cacheprovider", "-m", "slow or not slow",
                          f"--basetemp={basetemp}"], cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    verdicts = {point: word for word, point in re.findall(
        r"^(PASSED|FAILED|ERROR) \S+\[([^\]]+)\]", out.stdout, re.M)}
    found: dict[str, tuple[str, int, int]] = {}
    for marker in basetemp.glob("*/crash_point.txt"):
        point = marker.read_text()
        dup = extra = 0
        for db in (marker.parent / "home" / "runs").glob("*/store.db"):
            d, e = _count(db.parent)
            dup, extra = dup + d, extra + e
        found[point] = (verdicts.get(point, "?"), dup, extra)
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--points", default=",".join(POINTS))
    args = parser.parse_args()
    points = args.points.split(",")
    passed: Counter[str] = Counter()
    dups: Counter[str] = Counter()
    extras: Counter[str] = Counter()
    for n in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="crash-bench-") as tmp:
            for point, (verdict, dup, extra) in run_round(points, Path(tmp) / "t").items():
                passed[point] += verdict == "PASSED"
                dups[point] += dup
                extras[point] += extra
        print(f"round {n + 1}/{args.rounds} done", file=sys.stderr)
    print("| crash point | passed | duplicate points | trials started twice |")
    print("|---|---|---|---|")
    for p in points:
        print(f"| `{p}` | {passed[p]}/{args.rounds} | {dups[p]} | {extras[p]} |")
    print(f"| **all {len(points)}** | {sum(passed.values())}/{len(points) * args.rounds} | "
          f"{sum(dups.values())} | {sum(extras.values())} |")
    return 0 if sum(passed.values()) == len(points) * args.rounds else 1


if __name__ == "__main__":
    sys.exit(main())
