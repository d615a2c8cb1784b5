"""Conditional search spaces: tuitune's bayes and random against Optuna 5's TPE and GP.

Two problems whose branches have different active parameters:

- `tree`: the tree-structured function of Jenatton et al. 2017 ("Bayesian
  optimization with tree-structured dependencies", ICML), used since as the
  standard conditional test (e.g. Ma and Blaschko 2020). Two binary choices pick one
  of four leaves; each leaf has its own parameter in [-1, 1] and shares one of two
  offsets in [0, 1]: f = x_leaf^2 + c_leaf + r, c = 0.1, 0.2, 0.3, 0.4. Optimum 0.1.
- `mlp`: shaped like the MLP tuning problem of issue 17: 1 to 3 layers with the
  units of each (log scale, units of layer k only with at least k layers), SGD or
  Adam, a learning rate whose best value depends on the optimizer, SGD's momentum or
  Adam's beta1 (only under that optimizer). Smooth, with known optimum 0 (Adam, 3
  layers of 128 units, lr 1e-3, beta1 0.9).

Every method gets the same first `--n-init` random configurations per seed (told
as hand trials to tuitune, enqueued in Optuna); Optuna's samplers see the space by
define-by-run, as its documentation shows for conditional spaces, with default
settings (TPE: multivariate as in 5.0's default; GP: parameters outside the
intersection space sampled independently). Regret = best value found minus the
optimum, median [interquartile range] over seeds; time per suggestion is the CPU
time of one ask on one thread.

Reproduce (about 10 minutes on 2 cores):

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
        nice python benchmarks/bench_conditional.py --seeds 10 --trials 50 \
        --out benchmarks/results/conditional_raw.md
"""

from __future__ import annotations

import argparse
import math
import os
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

from _common import bayes_ask_cpu_seconds, emit_report  # noqa: E402
from _functions import Problem  # noqa: E402
from bench_search import available, versions  # noqa: E402

from tuitune.core.conditions import parse_condition as when  # noqa: E402
from tuitune.core.space import (  # noqa: E402
    CategoricalParam,
    FloatParam,
    IntParam,
    Param,
    Space,
)
from tuitune.search import make_searcher  # noqa: E402


# -- the problems ----------------------------------------------------------------------
def _tree(p: Mapping[str, Any]) -> float:
    if p["x1"] == 0:
        leaf, c, r = ("x4", 0.1, p["r8"]) if p["x2"] == 0 else ("x5", 0.2, p["r8"])
    else:
        leaf, c, r = ("x6", 0.3, p["r9"]) if p["x3"] == 0 else ("x7", 0.4, p["r9"])
    return p[leaf] ** 2 + c + r


TREE = Problem("tree", Space((
    CategoricalParam("x1", choices=(0, 1)),
    CategoricalParam("x2", choices=(0, 1), when=when("x1 == 0")),
    CategoricalParam("x3", choices=(0, 1), when=when("x1 == 1")),
    FloatParam("x4", low=-1.0, high=1.0, when=when("x1 == 0 and x2 == 0")),
    FloatParam("x5", low=-1.0, high=1.0, when=when("x1 == 0 and x2 == 1")),
    FloatParam("x6", low=-1.0, high=1.0, when=when("x1 == 1 and x3 == 0")),
    FloatParam("x7", low=-1.0, high=1.0, when=when("x1 == 1 and x3 == 1")),
    FloatParam("r8", low=0.0, high=1.0, when=when("x1 == 0")),
    FloatParam("r9", low=0.0, high=1.0, when=when("x1 == 1")),
)), _tree, 0.1)


def _mlp(p: Mapping[str, Any]) -> float:
    layers = p["layers"]
    arch = 0.15 * (3 - layers) + sum(
        0.04 * (math.log2(p[f"units_{k}"]) - 7.0) ** 2 for k in range(1, layers + 1))
    if p["optimizer"] == "sgd":
        opt = 0.3 * (math.log10(p["lr"]) - math.log10(0.05)) ** 2
        opt += 2.0 * (math.log10(1 - p["momentum"]) + 1.0) ** 2 + 0.05
    else:
        opt = 0.3 * (math.log10(p["lr"]) + 3.0) ** 2 + 10.0 * (p["beta1"] - 0.9) ** 2
    return arch + opt


MLP = Problem("mlp", Space((
    IntParam("layers", low=1, high=3),
    IntParam("units_1", low=16, high=512, log=True),
    IntParam("units_2", low=16, high=512, log=True, when=when("layers >= 2")),
    IntParam("units_3", low=16, high=512, log=True, when=when("layers >= 3")),
    CategoricalParam("optimizer", choices=("sgd", "adam")),
    FloatParam("lr", low=1e-5, high=1.0, log=True),
    FloatParam("momentum", low=0.5, high=0.99, when=when({"optimizer": "sgd"})),
    FloatParam("beta1", low=0.8, high=0.99, when=when({"optimizer": "adam"})),
)), _mlp, 0.0)

PROBLEMS = {p.name: p for p in (TREE, MLP)}


def flat(problem: Problem) -> Problem:
    """The same parameters and function with no conditions (every parameter always
    exists): an unconditional space of the same dimension, for timing."""
    import dataclasses

    params = tuple(dataclasses.replace(p, when=None) for p in problem.space.params)
    return Problem(problem.name + "-flat", Space(params), problem.fn, problem.optimum)


def reference(name: str) -> Problem:
    """A timing reference: `hartmann6` (the issue's unconditional anchor) or
    `<problem>-flat`."""
    from _functions import PROBLEMS as SYNTHETIC

    if name.endswith("-flat"):
        return flat(PROBLEMS[name[: -len("-flat")]])
    return SYNTHETIC[name]

#: method -> (library, strategy or sampler)
METHODS = {"random": ("tuitune", "random"), "bayes": ("tuitune", "bayes"),
           "optuna-tpe": ("optuna", "tpe"), "optuna-gp": ("optuna", "gp")}


# -- running ---------------------------------------------------------------------------
def initial_points(problem: Problem, seed: int, n: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(10_000 + seed)
    return [problem.space.sample(rng) for _ in range(n)]


def run_tuitune(problem: Problem, strategy: str, seed: int,
                init: Sequence[Mapping[str, Any]], trials: int) -> list[float]:
    searcher = make_searcher(strategy, problem.space, seed=seed)
    values = []
    for i in range(trials):
        params = init[i] if i < len(init) else searcher.ask().params  # type: ignore[union-attr]
        assert set(params) == set(problem.space.active(params))
        value = problem(params)
        searcher.tell(params, value)
        values.append(value)
    return values


def suggest(trial: Any, p: Param) -> Any:
    """Optuna's define-by-run call for one parameter."""
    if isinstance(p, CategoricalParam):
        return trial.suggest_categorical(p.name, list(p.choices))
    if isinstance(p, IntParam):
        return trial.suggest_int(p.name, p.low, p.high, log=p.log)
    assert isinstance(p, FloatParam)
    return trial.suggest_float(p.name, p.low, p.high, log=p.log)


def optuna_params(trial: Any, space: Space) -> dict[str, Any]:
    """Ask each parameter whose condition holds, parents first: define-by-run."""
    values: dict[str, Any] = {}
    for p in space.ordered:
        if p.when is None or p.when.holds(values):
            values[p.name] = suggest(trial, p)
    return values


def optuna_study(kind: str, seed: int, n_init: int) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if kind == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_init)
    else:
        sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=n_init)
    return optuna.create_study(sampler=sampler)


def run_optuna(problem: Problem, kind: str, seed: int, init: Sequence[Mapping[str, Any]],
               trials: int) -> list[float]:
    import warnings

    warnings.filterwarnings("ignore")  # GP's "falls back to independent sampling" notes
    study = optuna_study(kind, seed, len(init))
    for params in init:
        study.enqueue_trial(dict(params))
    values = []
    for _ in range(trials):
        trial = study.ask()
        params = optuna_params(trial, problem.space)
        value = problem(params)
        study.tell(trial, value)
        values.append(value)
    return values


def run_one(job: tuple[str, str, int, int, int]) -> tuple[str, str, int, list[float], float]:
    pname, method, seed, trials, n_init = job
    if method.startswith("optuna"):
        import torch

        torch.set_num_threads(1)
    problem = PROBLEMS[pname]
    lib, name = METHODS[method]
    init = initial_points(problem, seed, n_init)
    t0 = time.process_time()
    if lib == "tuitune":
        values = run_tuitune(problem, name, seed, init, trials)
    else:
        values = run_optuna(problem, name, seed, init, trials)
    return pname, method, seed, values, time.process_time() - t0


def regret_rows(results: dict[tuple[str, str], list[list[float]]], problem: Problem,
                checkpoints: list[int], secs: dict[tuple[str, str], list[float]]) -> list[str]:
    head = "| method | " + " | ".join(f"regret @{c}" for c in checkpoints) + " | CPU s/run |"
    lines = [head, "|" + "---|" * (len(checkpoints) + 2)]
    for (pname, method), runs in results.items():
        if pname != problem.name:
            continue
        curves = np.minimum.accumulate(np.array(runs), axis=1) - problem.optimum
        cells = []
        for c in checkpoints:
            q1, med, q3 = np.percentile(curves[:, c - 1], [25, 50, 75])
            cells.append(f"{med:.2e} [{q1:.1e}, {q3:.1e}]")
        lines.append(f"| {method} | " + " | ".join(cells)
                     + f" | {np.mean(secs[(pname, method)]):.1f} |")
    return lines


# -- time per suggestion ---------------------------------------------------------------
def time_optuna(problem: Problem, kind: str, n_obs: int, reps: int) -> float:
    import optuna
    import torch

    torch.set_num_threads(1)
    times = []
    for rep in range(reps):
        rng = np.random.default_rng(500 + rep)
        study = optuna_study(kind, rep, 10)
        trials = []
        for _ in range(n_obs - 1):
            p = problem.space.sample(rng)  # the active parameters only, as define-by-run
            dists = {name: distribution(problem.space[name]) for name in p}
            trials.append(optuna.trial.create_trial(params=p, distributions=dists,
                                                    value=problem(p)))
        study.add_trials(trials)
        warm = study.ask()  # warms the sampler's cache, as in a running study
        study.tell(warm, problem(optuna_params(warm, problem.space)))
        t0 = time.process_time()
        optuna_params(study.ask(), problem.space)
        times.append(time.process_time() - t0)
    return float(np.median(times))


def distribution(p: Param) -> Any:
    """The Optuna distribution `suggest` would ask for."""
    import optuna.distributions as d

    if isinstance(p, CategoricalParam):
        return d.CategoricalDistribution(list(p.choices))
    if isinstance(p, IntParam):
        return d.IntDistribution(p.low, p.high, log=p.log)
    assert isinstance(p, FloatParam)
    return d.FloatDistribution(p.low, p.high, log=p.log)


def timing_rows(problems: Sequence[str], methods: Sequence[str], sizes: Sequence[int],
                reps: int, references: Sequence[str] = ()) -> list[str]:
    """The timing table; `references` are unconditional problems timed with `bayes`
    in the same run, and each conditional `bayes` row gets its ratio to the first
    (the machine is shared: ratios from one run compare better than times)."""
    lines = ["| problem | method | " + " | ".join(f"s/suggestion @{n} obs" for n in sizes)
             + " |", "|" + "---|" * (len(sizes) + 2)]
    bayes: dict[str, list[float]] = {}
    jobs = [(PROBLEMS[p], m) for p in problems for m in methods if m != "random"]
    jobs += [(reference(r), "bayes") for r in references]
    for problem, method in jobs:
        lib, name = METHODS[method]
        times = []
        for n in sizes:
            t = (bayes_ask_cpu_seconds(problem, n, reps) if lib == "tuitune"
                 else time_optuna(problem, name, n, reps))
            times.append(t)
            print(f"timing {problem.name} {method} @{n}: {t:.3f}s", file=sys.stderr, flush=True)
        if method == "bayes":
            bayes[problem.name] = times
        lines.append(f"| {problem.name} | {method} | "
                     + " | ".join(f"{t:.3f}" for t in times) + " |")
    if references and references[0] in bayes:
        base = bayes[references[0]]
        lines += ["", f"`bayes` time per suggestion relative to {references[0]}, same run:", "",
                  "| problem | " + " | ".join(f"@{n} obs" for n in sizes) + " |",
                  "|" + "---|" * (len(sizes) + 1)]
        for pname, times in bayes.items():
            if pname != references[0]:
                lines.append(f"| {pname} | " + " | ".join(
                    f"{t / b:.2f}x" for t, b in zip(times, base, strict=True)) + " |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", default="tree,mlp")
    ap.add_argument("--methods", default="random,bayes,optuna-tpe,optuna-gp")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--n-init", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timing", default="50,200", help="observation counts; '' to skip")
    ap.add_argument("--timing-reps", type=int, default=5)
    ap.add_argument("--timing-methods", default="bayes,optuna-gp")
    ap.add_argument("--timing-reference", default="hartmann6,tree-flat,mlp-flat",
                    help="unconditional problems timed with bayes in the same run "
                         "(hartmann6, or <problem>-flat); ratios are to the first")
    ap.add_argument("--no-regret", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m and not available_here(m)]
    problems = [p for p in args.problems.split(",") if p]
    report = [f"Versions: {versions()}", ""]
    if not args.no_regret:
        jobs = [(p, m, s, args.trials, args.n_init)
                for p in problems for m in methods for s in range(args.seeds)]
        results: dict[tuple[str, str], list[list[float]]] = {
            (p, m): [] for p in problems for m in methods}
        secs: dict[tuple[str, str], list[float]] = {k: [] for k in results}
        with ProcessPoolExecutor(args.jobs) as pool:
            for pname, method, seed, values, t in pool.map(run_one, jobs):
                results[(pname, method)].append(values)
                secs[(pname, method)].append(t)
                print(f"{pname} {method} seed {seed}: regret "
                      f"{min(values) - PROBLEMS[pname].optimum:.3e} ({t:.1f}s)",
                      file=sys.stderr, flush=True)
        checkpoints = sorted({c for c in (10, 25, args.trials) if c <= args.trials})
        for p in problems:
            report += ["", f"### {p} (optimum {PROBLEMS[p].optimum}), {args.seeds} seeds, "
                           f"{args.trials} trials, {args.n_init} shared random first", ""]
            report += regret_rows(results, PROBLEMS[p], checkpoints, secs)
    sizes = [int(s) for s in args.timing.split(",") if s]
    if sizes:
        timed = [m for m in args.timing_methods.split(",") if m in METHODS
                 and not available_here(m)]
        report += ["", "Time per suggestion, CPU seconds on one thread (median of "
                       f"{args.timing_reps}, after a warm-up ask, random observations):", ""]
        refs = [r for r in args.timing_reference.split(",") if r]
        report += timing_rows(problems, timed, sizes, args.timing_reps, refs)
    emit_report(report, args.out)
    return 0


def available_here(method: str) -> str | None:
    """None if the method can run here, else why not (Optuna's need optuna, GP torch)."""
    lib, name = METHODS[method]
    if lib != "optuna":
        return None
    return available({"tpe": "optuna-tpe", "gp": "optuna-gp"}[name])


if __name__ == "__main__":
    raise SystemExit(main())
