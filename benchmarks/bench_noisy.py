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

from _common import emit_report  # noqa: E402
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
                init: Sequence[Mapping[str, Any]], trials: int) -> tuple[float, float]:
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
        searcher.tell(params, problem.observe(params, noise))
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
               init: Sequence[Mapping[str, Any]], trials: int) -> tuple[float, float]:
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
        study.tell(trial, problem.observe(params, noise))
    pick = from_optuna(problem, study.best_trial.params)
    return problem.true(pick) - problem.optimum, spent / max(trials - len(init), 1)


def run_one(args: tuple[str, str, int, int, int]) -> tuple[str, str, int, float, float]:
    pname, method, seed, trials, n_init = args
    problem = NOISY_PROBLEMS[pname]
    lib, name, options = METHODS[method]
    init = initial_points(problem, seed, n_init)
    if lib == "tuitune":
        regret, secs = run_tuitune(problem, name, options, seed, init, trials)
    else:
        regret, secs = run_optuna(problem, name, seed, init, trials)
    return pname, method, seed, regret, secs


def from_log(path: str) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """The per-run lines a run printed on stderr, as results."""
    pattern = re.compile(r"^(\S+) (\S+) seed (\d+): regret (\S+) \((\S+) s/ask\)$")
    out: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with open(path) as fh:
        for line in fh:
            m = pattern.match(line.strip())
            if m:
                out.setdefault((m[1], m[2]), []).append((float(m[4]), float(m[5])))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", default=",".join(NOISY_PROBLEMS))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--n-init", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out")
    ap.add_argument("--from-log", help="build the table from the per-run lines of an earlier "
                                       "run's stderr (a run cut short: seeds per cell shown)")
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
    # Seed-major: a run cut short has every method at about the same number of seeds.
    jobs = [(p, m, s, args.trials, args.n_init)
            for s in range(args.seeds) for p in problems for m in methods]
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    if args.from_log:
        results = from_log(args.from_log)
        problems = [p for p in problems if any(k[0] == p for k in results)]
        methods = [m for m in methods if any(k[1] == m for k in results)]
    else:
        with ProcessPoolExecutor(args.jobs) as pool:
            for pname, method, seed, regret, secs in pool.map(run_one, jobs):
                results.setdefault((pname, method), []).append((regret, secs))
                print(f"{pname} {method} seed {seed}: regret {regret:.3e} ({secs:.3f} s/ask)",
                      file=sys.stderr, flush=True)
    report += [
        f"Regret of the noise-free value of the configuration each method would pick after "
        f"{args.trials} trials (first {args.n_init} random and shared), median [IQR] over "
        f"{args.seeds} seeds; CPU seconds per suggestion (mean over the model's asks):",
        "",
        "| problem | " + " | ".join(methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for p in problems:
        cells = []
        for m in methods:
            if (p, m) not in results:
                cells.append("not run")
                continue
            r = np.array(results[(p, m)])
            q1, med, q3 = np.percentile(r[:, 0], [25, 50, 75])
            cells.append(f"{med:.3g} [{q1:.2g}, {q3:.2g}] ({np.mean(r[:, 1]):.3f} s)"
                         + (f" n={len(r)}" if len(r) != args.seeds else ""))
        report.append(f"| {p} | " + " | ".join(cells) + " |")
    emit_report(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
