"""Pieces shared by the search benchmarks (bench_search, bench_noisy,
bench_multi_objective, bench_conditional, bench_search_parallel)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
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
