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
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import (  # noqa: E402
    append_run_line,
    emit_report,
    median_cell,
    parse_seeds,
    read_run_logs,
)
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


def run_one(args: tuple[str, str, int, int, int]) -> tuple[str, str, int, float, float]:
    pname, method, seed, trials, n_init = args
    problem = MO_PROBLEMS[pname]
    rng = np.random.default_rng(10_000 + seed)
    init = [problem.space.sample(rng) for _ in range(n_init)]
    if method.startswith("optuna-"):
        losses, secs = run_optuna(problem, method.split("-", 1)[1], seed, init, trials)
    else:
        losses, secs = run_tuitune(problem, method, seed, init, trials)
    return pname, method, seed, hypervolume_2d(losses, problem.reference), secs


RUN_LINE = re.compile(r"^(\S+) (\S+) seed (\d+): HV (\S+) \((\S+) s/ask\)$")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", default=",".join(MO_PROBLEMS))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1")
    ap.add_argument("--seed-list", help="these seeds instead, e.g. 5-9 or 0,3")
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--n-init", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out")
    ap.add_argument("--log", help="append each finished run's line here; runs already in "
                                  "it are skipped (resume), and the table holds them")
    ap.add_argument("--from-log", action="append", default=[],
                    help="build the table from the per-run lines of earlier runs (a log or "
                         "their stderr; repeatable, merged by seed), running nothing")
    args = ap.parse_args(argv)
    seeds = parse_seeds(args.seed_list) if args.seed_list else list(range(args.seeds))
    methods = [m for m in args.methods.split(",") if m]
    report = [f"command: python benchmarks/bench_multi_objective.py "
              f"{shlex.join(argv or sys.argv[1:])}", "", f"Versions: {versions()}", ""]
    skipped = {m: available(m) for m in methods if m in ("optuna-gp", "optuna-tpe")}
    report += [f"Skipped {m}: {why}." for m, why in skipped.items() if why]
    methods = [m for m in methods if not skipped.get(m)]
    problems = [p for p in args.problems.split(",") if p]
    logs = args.from_log or ([args.log] if args.log and os.path.exists(args.log) else [])
    done = read_run_logs(logs, RUN_LINE)
    if not args.from_log:
        # Seed-major: a run cut short has every method at about the same number of seeds.
        jobs = [(p, m, s, args.trials, args.n_init)
                for s in seeds for p in problems for m in methods if (p, m, s) not in done]
        with ProcessPoolExecutor(args.jobs) as pool:
            for pname, method, seed, hv, secs in pool.map(run_one, jobs):
                done[(pname, method, seed)] = (hv, secs)
                append_run_line(f"{pname} {method} seed {seed}: HV {hv:.5g} ({secs:.3f} s/ask)",
                                args.log)
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for (p, m, s), value in sorted(done.items()):
        if s in seeds:
            results.setdefault((p, m), []).append(value)
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
