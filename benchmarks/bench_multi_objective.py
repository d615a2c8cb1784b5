"""Several objectives: hypervolume after N trials, tuitune's searchers against
Optuna 5's GP sampler (multi-objective: log EHVI), TPE and NSGA-II (issue 17.2).

Problems (benchmarks/_mo_functions.py): ZDT1 in 4 dimensions, BraninCurrin (2-d)
and an HPO-like accuracy-against-training-seconds problem (lr, width, depth,
epochs). Every method gets the same first `--n-init` random configurations per
seed, then chooses the rest. The hypervolume of all results (a fixed reference
point per problem; a maximised objective negated) is reported as median [IQR]
over seeds, with the mean CPU seconds per suggestion of the model's asks.
NSGA-II runs with population_size=10 so that it evolves within 50 trials (its
default of 50 would make every trial of the run a random first generation).

Reproduce (about 20 minutes on 2 cores):

    nice python benchmarks/bench_multi_objective.py --seeds 10 --trials 50 \
        --out benchmarks/results/multi_objective.md

A grid can be run in parts: `--log FILE` appends each finished run and skips those
already there (rerun the same command to resume); `--seed-list 5-9` runs some seeds;
`--from-log A --from-log B` tables the runs of several logs without running anything.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import RunKey, add_split_args, emit_report, median_cell, run_split  # noqa: E402
from _mo_functions import MO_PROBLEMS, MOProblem  # noqa: E402
from bench_noisy import optuna_distributions  # noqa: E402
from bench_search import available, versions  # noqa: E402

from tuitune.core.pareto import hypervolume_2d  # noqa: E402
from tuitune.search import make_searcher  # noqa: E402

METHODS = ("random", "bayes", "optuna-gp", "optuna-tpe", "optuna-nsga2")


def run_tuitune(problem: MOProblem, strategy: str, seed: int,
                init: Sequence[Mapping[str, Any]], trials: int) -> tuple[list[tuple[float, float]], float]:
    s = make_searcher(strategy, problem.space, seed=seed, mode=problem.modes)
    out, spent = [], 0.0
    for i in range(trials):
        if i < len(init):
            params = dict(init[i])
        else:
            t0 = time.process_time()
            params = dict(s.ask().params)  # type: ignore[union-attr]
            spent += time.process_time() - t0
        values = problem.fn(params)
        s.tell(params, values)
        out.append(problem.losses(values))
    return out, spent / max(trials - len(init), 1)


def run_optuna(problem: MOProblem, kind: str, seed: int,
               init: Sequence[Mapping[str, Any]], trials: int) -> tuple[list[tuple[float, float]], float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if kind == "gp":
        import torch

        torch.set_num_threads(1)
        sampler: Any = optuna.samplers.GPSampler(seed=seed, n_startup_trials=len(init))
    elif kind == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=len(init))
    else:
        sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=10)
    directions = ["minimize" if m == "min" else "maximize" for m in problem.modes]
    study = optuna.create_study(sampler=sampler, directions=directions)
    for params in init:
        study.enqueue_trial(dict(params))
    dists = optuna_distributions(problem)  # type: ignore[arg-type]
    out, spent = [], 0.0
    for i in range(trials):
        t0 = time.process_time()
        trial = study.ask(dists)
        if i >= len(init):
            spent += time.process_time() - t0
        values = problem.fn(trial.params)
        study.tell(trial, list(values))
        out.append(problem.losses(values))
    return out, spent / max(trials - len(init), 1)


def run_one(job: tuple[str, str, int], trials: int, n_init: int) -> tuple[RunKey, float, float, str]:
    pname, method, seed = job
    problem = MO_PROBLEMS[pname]
    rng = np.random.default_rng(10_000 + seed)
    init = [problem.space.sample(rng) for _ in range(n_init)]
    if method.startswith("optuna-"):
        losses, secs = run_optuna(problem, method.split("-", 1)[1], seed, init, trials)
    else:
        losses, secs = run_tuitune(problem, method, seed, init, trials)
    hv = hypervolume_2d(losses, problem.reference)
    return job, hv, secs, f"{pname} {method} seed {seed}: HV {hv:.5g} ({secs:.3f} s/ask)"


RUN_LINE = re.compile(r"^(\S+) (\S+) seed (\d+): HV (\S+) \((\S+) s/ask\)$")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", default=",".join(MO_PROBLEMS))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--n-init", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out")
    add_split_args(ap)
    args = ap.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    report = [f"command: python benchmarks/bench_multi_objective.py "
              f"{shlex.join(argv or sys.argv[1:])}", "", f"Versions: {versions()}", ""]
    skipped = {m: available(m) for m in methods if m in ("optuna-gp", "optuna-tpe")}
    report += [f"Skipped {m}: {why}." for m, why in skipped.items() if why]
    methods = [m for m in methods if not skipped.get(m)]
    problems = [p for p in args.problems.split(",") if p]
    seeds, results = run_split(args, problems, methods,
                               partial(run_one, trials=args.trials, n_init=args.n_init), RUN_LINE)
    problems = [p for p in problems if any(k[0] == p for k in results)]
    methods = [m for m in methods if any(k[1] == m for k in results)]
    report += [
        f"Hypervolume after {args.trials} trials (first {args.n_init} random and shared), "
        f"median [IQR] over {len(seeds)} seeds (higher is better); mean CPU seconds per "
        "suggestion of the model's asks:",
        "",
        "| problem (reference point) | " + " | ".join(methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for p in problems:
        cells = [median_cell(results[(p, m)], len(seeds), ".5g", ".5g")
                 if (p, m) in results else "not run" for m in methods]
        report.append(f"| {p} {MO_PROBLEMS[p].reference} | " + " | ".join(cells) + " |")
    emit_report(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
