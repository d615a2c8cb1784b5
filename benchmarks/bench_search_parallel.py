"""Parallel search benchmark: 4 concurrent trials against 1, in simulated wall-clock.

Trials take a random time each (uniform in [0.5, 1.5] units, seeded), so workers
finish out of step, as on real GPUs. Each worker that frees up tells its result,
then the searcher is told which trials are still running (`set_pending`) and asked
for the next one. The first `--n-init` trials are the same random points as in
bench_search.py. Reported per problem: simple regret (median [IQR] over seeds) at
fixed wall-clock times and after all trials, exact duplicate suggestions (summed
over seeds), suggestions within 1e-3 (unit cube) of a trial running when they were
made (summed), and the smallest such distance (median over seeds).

"bayes-ignore" asks with an empty pending set: it shows what the pending
strategies prevent.

Reproduce (about 10 minutes on 2 cores):

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_search_parallel.py
"""

from __future__ import annotations

import argparse
import heapq
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import emit_report  # noqa: E402
from _functions import PROBLEMS, Problem  # noqa: E402
from bench_search import initial_points, versions  # noqa: E402

from tuitune.search import make_searcher  # noqa: E402

#: name -> (strategy, workers, options, whether the searcher sees pending trials)
METHODS: dict[str, tuple[str, int, dict[str, Any], bool]] = {
    "bayes x1": ("bayes", 1, {}, True),
    "bayes x4 believer": ("bayes", 4, {"pending": "believer"}, True),
    "bayes x4 liar": ("bayes", 4, {"pending": "liar"}, True),
    "bayes-ignore x4": ("bayes", 4, {}, False),
    "random x4": ("random", 4, {}, True),
}


def simulate(problem: Problem, method: str, seed: int, trials: int, n_init: int) -> dict[str, Any]:
    strategy, workers, options, sees_pending = METHODS[method]
    searcher = make_searcher(strategy, problem.space, seed=seed, options=options)
    init = initial_points(problem, seed, n_init)
    durations = np.random.default_rng(20_000 + seed).uniform(0.5, 1.5, trials)
    running: dict[int, dict[str, Any]] = {}
    heap: list[tuple[float, int]] = []
    keys, gaps, finished = [], [], []

    def start(i: int, now: float) -> None:
        if i < len(init):
            params = dict(init[i])
        else:
            searcher.set_pending(list(running.values()) if sees_pending else [])
            params = dict(searcher.ask().params)  # type: ignore[union-attr]
            gaps.append(_nearest(problem, params, list(running.values())))
        keys.append(problem.space.key(params))
        running[i] = params
        heapq.heappush(heap, (now + durations[i], i))

    started = 0
    while started < min(workers, trials):
        start(started, 0.0)
        started += 1
    while heap:
        now, i = heapq.heappop(heap)
        params = running.pop(i)
        value = problem(params)
        searcher.tell(params, value)
        finished.append((now, value))
        if started < trials:
            start(started, now)
            started += 1
    return {
        "finished": finished,
        "duplicates": len(keys) - len(set(keys)),
        "near": sum(g < 1e-3 for g in gaps),
        "min_gap": min(gaps) if gaps else float("nan"),
    }


def _nearest(problem: Problem, params: dict[str, Any], others: list[dict[str, Any]]) -> float:
    if not others:
        return float("inf")
    u = problem.space.encode(params)
    return float(min(np.linalg.norm(u - problem.space.encode(o)) for o in others))


def regret_at(finished: list[tuple[float, float]], t: float, optimum: float) -> float:
    values = [v for when, v in finished if when <= t]
    return min(values) - optimum if values else float("nan")


def run_one(args: tuple[str, str, int, int, int]) -> tuple[str, str, dict[str, Any]]:
    pname, method, seed, trials, n_init = args
    result = simulate(PROBLEMS[pname], method, seed, trials, n_init)
    best = min(v for _, v in result["finished"]) - PROBLEMS[pname].optimum
    print(
        f"{pname} {method} seed {seed}: regret {best:.3e}, dup {result['duplicates']}",
        file=sys.stderr,
        flush=True,
    )
    return pname, method, result


def _cell(values: Sequence[float]) -> str:
    arr = np.array([v for v in values if np.isfinite(v)])
    if len(arr) < len(values):
        return "n/a"
    q1, med, q3 = np.percentile(arr, [25, 50, 75])
    return f"{med:.2e} [{q1:.1e}, {q3:.1e}]"


def table(
    problem: Problem, results: dict[str, list[dict[str, Any]]], times: Sequence[float]
) -> list[str]:
    head = (
        "| method | "
        + " | ".join(f"regret @t={t:g}" for t in times)
        + " | regret, all trials | wall-clock used | duplicates | within 1e-3 of a running"
        " trial | min gap to running |"
    )
    lines = [head, "|" + "---|" * (len(times) + 6)]
    for method, runs in results.items():
        cells = [_cell([regret_at(r["finished"], t, problem.optimum) for r in runs]) for t in times]
        final = _cell([min(v for _, v in r["finished"]) - problem.optimum for r in runs])
        wall = np.median([r["finished"][-1][0] for r in runs])
        dups = sum(r["duplicates"] for r in runs)
        near = sum(r["near"] for r in runs)
        gap = np.median([r["min_gap"] for r in runs])
        lines.append(
            f"| {method} | "
            + " | ".join(cells)
            + f" | {final} | {wall:.1f} | {dups} | {near} | {gap:.2g} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", default="branin,hartmann6")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--n-init", type=int, default=10)
    ap.add_argument("--times", default="5,10,15,25")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", help="also write the markdown report here")
    args = ap.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    problems = [PROBLEMS[p] for p in args.problems.split(",") if p]
    jobs = [
        (p.name, m, s, args.trials, args.n_init)
        for p in problems
        for m in methods
        for s in range(args.seeds)
    ]
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        p.name: {m: [] for m in methods} for p in problems
    }
    with ProcessPoolExecutor(args.jobs) as pool:
        for pname, method, result in pool.map(run_one, jobs):
            results[pname][method].append(result)
    times = [float(t) for t in args.times.split(",")]
    report = [f"Versions: {versions()}"]
    for p in problems:
        report += [
            "",
            f"{p.name}: {args.trials} trials, {args.seeds} seeds, trial time "
            "uniform in [0.5, 1.5]; regret median [IQR]:",
            "",
        ]
        report += table(p, results[p.name], times)
    emit_report(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
