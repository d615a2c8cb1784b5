"""Noisy and failing objectives: tuitune's searchers against random search and
Optuna's TPE and GP samplers (issue 17, items 4 and 5).

Each observation is noisy (Gaussian noise of a known size on Branin and Hartmann6)
or, on `mlp-diverge`, an SGD-shaped 6-d problem where about one configuration in
five diverges (NaN, or a final loss of 10 to 10^4) and two runs of a configuration
differ by about 0.05. A method is judged by the configuration it would pick after
the last trial: tuitune's `incumbent()` (for `bayes` the observed configuration
with the lowest posterior mean; for `random` the best observed) and Optuna's
`best_trial` (the best observed). The regret is that configuration's noise-free
value minus the optimum. Every method gets the same first `--n-init` random
configurations per seed (and the same noise draws for them).

Reproduce (about 15 minutes on 2 cores):

    nice python benchmarks/bench_noisy.py --seeds 10 --trials 50 \
        --out benchmarks/results/noisy.md

A grid can be run in parts: `--log FILE` appends each finished run and skips those
already there; `--seed-list 5-9` runs some seeds; `--from-log A --from-log B` tables
the runs of several logs. `--timing 50,200` adds the CPU seconds of one suggestion
after that many noisy observations.
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

from _common import (  # noqa: E402
    RunKey,
    add_split_args,
    bayes_ask_cpu_seconds,
    emit_report,
    median_cell,
    run_split,
)
from _noisy_functions import NOISY_PROBLEMS, NoisyProblem  # noqa: E402
from bench_search import available, versions  # noqa: E402

from tuitune.search import make_searcher  # noqa: E402

METHODS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "random": ("tuitune", "random", {}),
    "bayes": ("tuitune", "bayes", {}),
    "optuna-tpe": ("optuna", "tpe", {}),
    "optuna-gp": ("optuna", "gp", {}),
}


def initial_points(problem: NoisyProblem, seed: int, n: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(10_000 + seed)
    return [problem.space.sample(rng) for _ in range(n)]


def run_tuitune(problem: NoisyProblem, strategy: str, options: Mapping[str, Any], seed: int,
                init: Sequence[Mapping[str, Any]], trials: int,
                seen: list[tuple[dict[str, Any], float]] | None = None) -> tuple[float, float]:
    """The regret of the pick and CPU seconds per ask; `seen` gets every (configuration,
    observation) when given (diagnose_noisy_pick.py)."""
    noise = np.random.default_rng(20_000 + seed)
    searcher = make_searcher(strategy, problem.space, seed=seed, options=options)
    spent = 0.0
    for i in range(trials):
        if i < len(init):
            params = dict(init[i])
        else:
            t0 = time.process_time()
            params = dict(searcher.ask().params)  # type: ignore[union-attr]
            spent += time.process_time() - t0
        observed = problem.observe(params, noise)
        if seen is not None:
            seen.append((params, observed))
        searcher.tell(params, observed)
    t0 = time.process_time()
    pick = searcher.incumbent()
    spent += time.process_time() - t0
    assert pick is not None
    return problem.true(pick) - problem.optimum, spent / max(trials - len(init), 1)


def optuna_distributions(problem: NoisyProblem) -> dict[str, Any]:
    import optuna
    from optuna.distributions import FloatDistribution, IntDistribution

    from tuitune.core.space import FloatParam, IntParam, MomentumParam, Pow2Param

    out: dict[str, Any] = {}
    for p in problem.space.dims:
        if isinstance(p, FloatParam):
            out[p.name] = FloatDistribution(p.low, p.high, log=p.log)
        elif isinstance(p, IntParam):
            out[p.name] = IntDistribution(p.low, p.high, log=p.log)
        elif isinstance(p, Pow2Param):  # searched as its exponent
            out[p.name] = IntDistribution(int(np.log2(p.low)), int(np.log2(p.high)))
        elif isinstance(p, MomentumParam):  # searched as log10(1 - m), as tuitune does
            out[p.name] = FloatDistribution(np.log10(1 - p.high), np.log10(1 - p.low))
        else:  # pragma: no cover - the problems use only the types above
            raise TypeError(p)
    del optuna
    return out


def from_optuna(problem: NoisyProblem, raw: Mapping[str, Any]) -> dict[str, Any]:
    from tuitune.core.space import MomentumParam, Pow2Param

    out = dict(raw)
    for p in problem.space.dims:
        if isinstance(p, Pow2Param):
            out[p.name] = 2 ** int(raw[p.name])
        elif isinstance(p, MomentumParam):
            out[p.name] = 1.0 - 10.0 ** float(raw[p.name])
    return out


def to_optuna(problem: NoisyProblem, params: Mapping[str, Any]) -> dict[str, Any]:
    from tuitune.core.space import MomentumParam, Pow2Param

    out = dict(params)
    for p in problem.space.dims:
        if isinstance(p, Pow2Param):
            out[p.name] = int(np.log2(params[p.name]))
        elif isinstance(p, MomentumParam):
            out[p.name] = float(np.log10(1.0 - params[p.name]))
    return out


def run_optuna(problem: NoisyProblem, kind: str, seed: int,
               init: Sequence[Mapping[str, Any]], trials: int,
               seen: list[tuple[dict[str, Any], float]] | None = None) -> tuple[float, float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if kind == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=len(init))
    else:
        import torch

        torch.set_num_threads(1)
        sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=len(init))
    study = optuna.create_study(sampler=sampler)
    for params in init:
        study.enqueue_trial(to_optuna(problem, params))
    dists = optuna_distributions(problem)
    noise = np.random.default_rng(20_000 + seed)
    spent = 0.0
    for i in range(trials):
        t0 = time.process_time()
        trial = study.ask(dists)
        if i >= len(init):
            spent += time.process_time() - t0
        params = from_optuna(problem, trial.params)
        observed = problem.observe(params, noise)
        if seen is not None:
            seen.append((params, observed))
        study.tell(trial, observed)
    pick = from_optuna(problem, study.best_trial.params)
    return problem.true(pick) - problem.optimum, spent / max(trials - len(init), 1)


def run_one(job: tuple[str, str, int], trials: int, n_init: int) -> tuple[RunKey, float, float, str]:
    pname, method, seed = job
    problem = NOISY_PROBLEMS[pname]
    lib, name, options = METHODS[method]
    init = initial_points(problem, seed, n_init)
    if lib == "tuitune":
        regret, secs = run_tuitune(problem, name, options, seed, init, trials)
    else:
        regret, secs = run_optuna(problem, name, seed, init, trials)
    return job, regret, secs, f"{pname} {method} seed {seed}: regret {regret:.3e} ({secs:.3f} s/ask)"


RUN_LINE = re.compile(r"^(\S+) (\S+) seed (\d+): regret (\S+) \((\S+) s/ask\)$")


class Observed:
    """A noisy problem as the timing helpers call it: `space`, `name`, and a noisy
    observation per call (the model fits noisy data, as in a real search)."""

    def __init__(self, problem: NoisyProblem, seed: int = 0) -> None:
        self.space, self.name, self._problem = problem.space, problem.name, problem
        self._rng = np.random.default_rng(30_000 + seed)

    def __call__(self, params: Mapping[str, Any]) -> float:
        return self._problem.observe(params, self._rng)


def timing_table(methods: Sequence[str], problems: Sequence[str], sizes: Sequence[int],
                 reps: int) -> list[str]:
    """CPU seconds of one suggestion after n noisy random observations (median of reps)."""
    from bench_search import time_optuna

    lines = ["| problem | method | " + " | ".join(f"s/suggestion @{n} obs" for n in sizes)
             + " |", "|" + "---|" * (len(sizes) + 2)]
    for pname in problems:
        for method in methods:
            lib, name, options = METHODS[method]
            if method == "random":
                continue
            cells = []
            for n in sizes:
                observed = Observed(NOISY_PROBLEMS[pname])
                t = (bayes_ask_cpu_seconds(observed, n, reps, options) if lib == "tuitune"
                     else time_optuna(observed, name, n, reps))  # type: ignore[arg-type]
                cells.append(f"{t:.3f}")
                print(f"timing {pname} {method} @{n}: {t:.3f}s", file=sys.stderr, flush=True)
            lines.append(f"| {pname} | {method} | " + " | ".join(cells) + " |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", default=",".join(NOISY_PROBLEMS))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--n-init", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out")
    ap.add_argument("--timing", default="", help="observation counts to time one suggestion "
                                                 "at, e.g. 50,200 (after the regret table)")
    ap.add_argument("--timing-reps", type=int, default=3)
    ap.add_argument("--no-regret", action="store_true", help="only the timing table")
    add_split_args(ap)
    args = ap.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    report = [f"command: python benchmarks/bench_noisy.py {shlex.join(argv or sys.argv[1:])}",
              "", f"Versions: {versions()}", ""]
    for m in methods:
        why = available(METHODS[m][0] == "optuna" and f"optuna-{METHODS[m][1]}" or m)
        if why:
            report.append(f"Skipped {m}: {why}.")
    methods = [m for m in methods
               if not available(METHODS[m][0] == "optuna" and f"optuna-{METHODS[m][1]}" or m)]
    problems = [p for p in args.problems.split(",") if p]
    if not args.no_regret:
        report += regret_report(args, problems, methods)
    sizes = [int(n) for n in args.timing.split(",") if n]
    if sizes:
        report += ["", f"CPU seconds per suggestion after n noisy random observations "
                       f"(median of {args.timing_reps}, after one warm-up suggestion):", ""]
        report += timing_table(methods, problems, sizes, args.timing_reps)
    emit_report(report, args.out)
    return 0


def regret_report(args: argparse.Namespace, problems: list[str], methods: list[str]) -> list[str]:
    seeds, results = run_split(args, problems, methods,
                               partial(run_one, trials=args.trials, n_init=args.n_init), RUN_LINE)
    problems = [p for p in problems if any(k[0] == p for k in results)]
    methods = [m for m in methods if any(k[1] == m for k in results)]
    report = [
        f"Regret of the noise-free value of the configuration each method would pick after "
        f"{args.trials} trials (first {args.n_init} random and shared), median [IQR] over "
        f"{len(seeds)} seeds; CPU seconds per suggestion (mean over the model's asks):",
        "",
        "| problem | " + " | ".join(methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for p in problems:
        cells = [median_cell(results[(p, m)], len(seeds), ".3g", ".2g")
                 if (p, m) in results else "not run" for m in methods]
        report.append(f"| {p} | " + " | ".join(cells) + " |")
    return report


if __name__ == "__main__":
    raise SystemExit(main())
