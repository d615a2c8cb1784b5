"""Search-quality and speed benchmark: tuitune's searchers against Optuna's samplers.

Every method gets the same first `--n-init` uniformly random trials per seed (told
as hand trials to tuitune, enqueued in Optuna), then chooses the rest itself.
Reports the simple regret (best found minus the known optimum) at 10, 25 and the
last trial as median [interquartile range] over seeds, and the time per suggestion
at 50 and 200 observations on one thread, as CPU time of the process (so that
other load on a shared machine does not inflate it; with one thread it equals
the wall time on an idle machine).

Reproduce (about 10 minutes on 2 cores):

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
        python benchmarks/bench_search.py --seeds 10 --trials 50

Optuna (and torch for its GPSampler) is a benchmark-only dependency: methods whose
library is missing are skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import bayes_ask_cpu_seconds, emit_report  # noqa: E402
from _functions import PROBLEMS, Problem  # noqa: E402

from tuitune.search import make_searcher  # noqa: E402

#: method name -> (library, tuitune strategy or optuna sampler, options)
METHODS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "random": ("tuitune", "random", {}),
    "bayes": ("tuitune", "bayes", {}),
    "bayes-det": ("tuitune", "bayes", {"deterministic": True}),
    "bayes-raw": ("tuitune", "bayes", {"transform": "none"}),
    "bayes-log": ("tuitune", "bayes", {"transform": "log"}),
    "optuna-tpe": ("optuna", "tpe", {}),
    "optuna-gp": ("optuna", "gp", {}),
}
DEFAULT_METHODS = "random,bayes,bayes-det,optuna-tpe,optuna-gp"


def initial_points(problem: Problem, seed: int, n: int) -> list[dict[str, Any]]:
    """The shared random start: identical for every method at a given seed."""
    rng = np.random.default_rng(10_000 + seed)
    return [problem.space.sample(rng) for _ in range(n)]


def run_tuitune(
    problem: Problem,
    strategy: str,
    options: Mapping[str, Any],
    seed: int,
    init: Sequence[Mapping[str, Any]],
    trials: int,
) -> list[float]:
    searcher = make_searcher(strategy, problem.space, seed=seed, options=options)
    values = []
    for i in range(trials):
        params = init[i] if i < len(init) else searcher.ask().params  # type: ignore[union-attr]
        value = problem(params)
        searcher.tell(params, value)
        values.append(value)
    return values


def optuna_sampler(kind: str, seed: int, n_init: int) -> Any:
    import optuna

    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_init)
    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=n_init)


def optuna_distributions(problem: Problem) -> dict[str, Any]:
    import optuna

    return {
        p.name: optuna.distributions.FloatDistribution(p.low, p.high)  # type: ignore[attr-defined]
        for p in problem.space.dims
    }


def run_optuna(
    problem: Problem, kind: str, seed: int, init: Sequence[Mapping[str, Any]], trials: int
) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(sampler=optuna_sampler(kind, seed, len(init)))
    for params in init:
        study.enqueue_trial(dict(params))
    dists = optuna_distributions(problem)
    values = []
    for _ in range(trials):
        trial = study.ask(dists)
        value = problem(trial.params)
        study.tell(trial, value)
        values.append(value)
    return values


def run_one(args: tuple[str, str, int, int, int]) -> tuple[str, str, int, list[float], float]:
    problem_name, method, seed, trials, n_init = args
    problem = PROBLEMS[problem_name]
    lib, name, options = METHODS[method]
    init = initial_points(problem, seed, n_init)
    t0 = time.perf_counter()
    if lib == "tuitune":
        values = run_tuitune(problem, name, options, seed, init, trials)
    else:
        values = run_optuna(problem, name, seed, init, trials)
    return problem_name, method, seed, values, time.perf_counter() - t0


def available(method: str) -> str | None:
    """None if the method can run here, else why not."""
    lib, name, _ = METHODS[method]
    if lib != "optuna":
        return None
    try:
        import optuna  # noqa: F401
    except ImportError:
        return "optuna is not installed"
    if name == "gp":
        try:
            import torch  # noqa: F401
        except ImportError:
            return "torch (needed by Optuna's GPSampler) is not installed"
    return None


def regret_table(
    results: dict[tuple[str, str], list[list[float]]], problem: Problem, checkpoints: list[int]
) -> list[str]:
    head = "| method | " + " | ".join(f"regret @{c}" for c in checkpoints) + " | s/run |"
    lines = [head, "|" + "---|" * (len(checkpoints) + 2)]
    for (pname, method), runs in results.items():
        if pname != problem.name:
            continue
        curves = np.minimum.accumulate(np.array(runs["values"]), axis=1) - problem.optimum
        cells = []
        for c in checkpoints:
            q1, med, q3 = np.percentile(curves[:, c - 1], [25, 50, 75])
            cells.append(f"{med:.2e} [{q1:.1e}, {q3:.1e}]")
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {np.mean(runs['secs']):.1f} |")
    return lines


# -- time per suggestion --------------------------------------------------------------


def time_optuna(problem: Problem, kind: str, n_obs: int, reps: int) -> float:
    import optuna

    if kind == "gp":
        import torch

        torch.set_num_threads(1)

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    dists = optuna_distributions(problem)
    times = []
    for rep in range(reps):
        rng = np.random.default_rng(500 + rep)
        study = optuna.create_study(sampler=optuna_sampler(kind, rep, 10))
        trials = []
        for _ in range(n_obs - 1):
            p = problem.space.sample(rng)
            trials.append(
                optuna.trial.create_trial(params=p, distributions=dists, value=problem(p))
            )
        study.add_trials(trials)
        warm = study.ask(dists)  # warms the sampler's cache, as in a running study
        study.tell(warm, problem(warm.params))
        t0 = time.process_time()
        study.ask(dists)
        times.append(time.process_time() - t0)
    return float(np.median(times))


def timing_table(
    methods: Sequence[str], problems: Sequence[str], sizes: Sequence[int], reps: int
) -> list[str]:
    lines = [
        "| problem | method | " + " | ".join(f"s/suggestion @{n} obs" for n in sizes) + " |",
        "|" + "---|" * (len(sizes) + 2),
    ]
    for pname in problems:
        problem = PROBLEMS[pname]
        for method in methods:
            lib, name, options = METHODS[method]
            if method == "random" or available(method):
                continue
            cells = []
            for n in sizes:
                if lib == "tuitune":
                    t = bayes_ask_cpu_seconds(problem, n, reps, options)
                else:
                    t = time_optuna(problem, name, n, reps)
                cells.append(f"{t:.3f}")
                print(f"timing {pname} {method} @{n}: {t:.3f}s", file=sys.stderr, flush=True)
            lines.append(f"| {pname} | {method} | " + " | ".join(cells) + " |")
    return lines


def versions() -> str:
    import scipy

    parts = [
        f"python {platform.python_version()}",
        f"numpy {np.__version__}",
        f"scipy {scipy.__version__}",
    ]
    for mod in ("optuna", "torch"):
        try:
            parts.append(f"{mod} {__import__(mod).__version__}")
        except ImportError:
            pass
    return (
        ", ".join(parts) + f"; {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", default="branin,hartmann6,exp-branin")
    ap.add_argument("--methods", default=DEFAULT_METHODS)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--n-init", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2, help="processes for the regret runs")
    ap.add_argument("--timing", default="50,200", help="observation counts; '' to skip")
    ap.add_argument("--timing-reps", type=int, default=5)
    ap.add_argument(
        "--timing-problems",
        default="hartmann6,exp-branin",
        help="exp-branin spans orders of magnitude, so it times the transform check too",
    )
    ap.add_argument("--no-regret", action="store_true")
    ap.add_argument("--json", help="write raw curves here")
    ap.add_argument("--out", help="also write the markdown report here")
    args = ap.parse_args(argv)

    methods = [m for m in args.methods.split(",") if m]
    report = [f"Versions: {versions()}", ""]
    for m in methods:
        why = available(m)
        if why:
            report.append(f"Skipped {m}: {why}.")
    methods = [m for m in methods if not available(m)]
    if not args.no_regret:
        report += regret_section(args, methods)
    sizes = [int(s) for s in args.timing.split(",") if s]
    if sizes:
        report += [
            "",
            "Time per suggestion in CPU seconds (one thread, median of "
            f"{args.timing_reps}, after one warm-up suggestion, with random observations):",
            "",
        ]
        timing_problems = [p for p in args.timing_problems.split(",") if p]
        report += timing_table(methods, timing_problems, sizes, args.timing_reps)
    emit_report(report, args.out)
    return 0


def regret_section(args: argparse.Namespace, methods: list[str]) -> list[str]:
    problems = [PROBLEMS[p] for p in args.problems.split(",") if p]
    jobs = [
        (p.name, m, s, args.trials, args.n_init)
        for p in problems
        for m in methods
        for s in range(args.seeds)
    ]
    results: dict[tuple[str, str], dict[str, list[Any]]] = {}
    for p in problems:
        for m in methods:
            results[(p.name, m)] = {"values": [], "secs": []}
    run: Callable[..., Any] = map
    pool = ProcessPoolExecutor(args.jobs) if args.jobs > 1 else None
    if pool is not None:
        run = pool.map
    for pname, method, seed, values, secs in run(run_one, jobs):
        results[(pname, method)]["values"].append(values)
        results[(pname, method)]["secs"].append(secs)
        best = min(values) - PROBLEMS[pname].optimum
        print(
            f"{pname} {method} seed {seed}: regret {best:.3e} ({secs:.1f}s)",
            file=sys.stderr,
            flush=True,
        )
    if pool is not None:
        pool.shutdown()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({f"{k[0]}/{k[1]}": v for k, v in results.items()}, fh)
    checkpoints = sorted({c for c in (10, 25, args.trials) if c <= args.trials})
    out = []
    for p in problems:
        out += [
            "",
            f"{p.name}: simple regret, median [IQR] over {args.seeds} seeds, "
            f"first {args.n_init} trials random and shared:",
            "",
        ]
        out += regret_table(results, p, checkpoints)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
