"""Pieces shared by the search benchmarks (bench_search, bench_noisy,
bench_multi_objective, bench_conditional, bench_search_parallel)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from tuitune.search import make_searcher


def bayes_ask_cpu_seconds(problem: Any, n_obs: int, reps: int,
                          options: Mapping[str, Any] | None = None) -> float:
    """Median CPU seconds of one `bayes` ask after `n_obs` random observations.

    CPU time of the process, so other load on a shared machine does not inflate
    it. One warm-up ask comes first: a running search has its hyperparameter
    cache warm, so timing a cold first ask would overstate the cost.
    """
    times = []
    for rep in range(reps):
        rng = np.random.default_rng(500 + rep)
        searcher = make_searcher("bayes", problem.space, seed=rep, options=options)
        for _ in range(n_obs - 1):
            p = problem.space.sample(rng)
            searcher.tell(p, problem(p))
        searcher.ask()
        p = problem.space.sample(rng)
        searcher.tell(p, problem(p))
        t0 = time.process_time()
        searcher.ask()
        times.append(time.process_time() - t0)
    return float(np.median(times))


def emit_report(lines: Sequence[str], out: str | None) -> None:
    """Print the report and, when `out` names a file, write it there too."""
    text = "\n".join(lines)
    print(text)
    if out:
        with open(out, "w") as fh:
            fh.write(text + "\n")


# Runs split over several invocations (issue 17: a shared machine rarely gives one
# grid the hours it needs). Each finished run is one line in a log; the table is
# built from every log given, so seeds run on different days merge into one table.

def parse_seeds(spec: str) -> list[int]:
    """`"0-9"`, `"3,7"` or `"0-4,8"` as a sorted list of seeds."""
    seeds: set[int] = set()
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        seeds.update(range(int(lo), int(hi or lo) + 1))
    return sorted(seeds)


RunKey = tuple[str, str, int]  # problem, method, seed


def read_run_logs(paths: Sequence[str], pattern: Any) -> dict[RunKey, tuple[float, float]]:
    """Per-run lines (`pattern`: problem, method, seed, value, seconds groups) from
    logs or an earlier run's stderr. A later line for the same run replaces an
    earlier one, so a rerun of a seed never counts twice."""
    out: dict[RunKey, tuple[float, float]] = {}
    for path in paths:
        with open(path) as fh:
            for line in fh:
                m = pattern.match(line.strip())
                if m:
                    out[(m[1], m[2], int(m[3]))] = (float(m[4]), float(m[5]))
    return out


def append_run_line(line: str, log: str | None) -> None:
    """Print a finished run's line on stderr and append it to `log` at once, so a
    run that is stopped keeps every result it had."""
    print(line, file=sys.stderr, flush=True)
    if log:
        with open(log, "a") as fh:
            fh.write(line + "\n")


def median_cell(runs: Sequence[tuple[float, float]], n_seeds: int, fmt: str, ifmt: str) -> str:
    """`median [q1, q3] (mean s)` over runs, with `n=` when seeds are missing."""
    r = np.array(runs)
    q1, med, q3 = np.percentile(r[:, 0], [25, 50, 75])
    return (f"{med:{fmt}} [{q1:{ifmt}}, {q3:{ifmt}}] ({np.mean(r[:, 1]):.3f} s)"
            + (f" n={len(r)}" if len(r) != n_seeds else ""))


def add_split_args(ap: argparse.ArgumentParser) -> None:
    """--seeds/--seed-list, --log and --from-log: a grid run in parts, then merged."""
    ap.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1")
    ap.add_argument("--seed-list", help="these seeds instead, e.g. 5-9 or 0,3")
    ap.add_argument("--log", help="append each finished run's line here; runs already in "
                                  "it are skipped (resume), and the table holds them")
    ap.add_argument("--from-log", action="append", default=[],
                    help="build the table from the per-run lines of earlier runs (a log or "
                         "their stderr; repeatable, merged by seed), running nothing")


def run_split(args: argparse.Namespace, problems: Sequence[str], methods: Sequence[str],
              run_one: Callable[[tuple[str, str, int]], tuple[RunKey, float, float, str]],
              pattern: Any) -> tuple[list[int], dict[tuple[str, str], list[tuple[float, float]]]]:
    """Run the (problem, method, seed) runs not in the logs yet, `args.jobs` at a time,
    seed-major (a run cut short has every method at about the same number of seeds).
    `run_one` returns the run's key, value, seconds per ask and log line. Returns the
    seeds asked for and, per (problem, method), their (value, seconds) from this run
    and the logs."""
    seeds = parse_seeds(args.seed_list) if args.seed_list else list(range(args.seeds))
    logs = args.from_log or ([args.log] if args.log and os.path.exists(args.log) else [])
    done = read_run_logs(logs, pattern)
    if not args.from_log:
        jobs = [(p, m, s) for s in seeds for p in problems for m in methods
                if (p, m, s) not in done]
        with ProcessPoolExecutor(args.jobs) as pool:
            for key, value, secs, line in pool.map(run_one, jobs):
                done[key] = (value, secs)
                append_run_line(line, args.log)
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for (p, m, s), value in sorted(done.items()):
        if s in seeds and p in problems and m in methods:
            results.setdefault((p, m), []).append(value)
    return seeds, results
