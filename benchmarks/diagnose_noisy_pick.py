"""Why one method's pick is worse than another's on a noisy problem: the search (the
best configuration it evaluated) or the pick (which of them it would choose)?

For each seed, runs a method as bench_noisy.py does (same initial points, noise draws
and seeds) and reports three regrets of noise-free values: of its pick (what
bench_noisy.py scores), of the best configuration it evaluated (a perfect pick), and
of the configuration with the best noisy observation (the pick of random search and
Optuna). Median [IQR] over seeds.

    nice python benchmarks/diagnose_noisy_pick.py --problem hartmann6+noise0.05 \
        --methods bayes,optuna-gp --seeds 10
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from bench_noisy import (  # noqa: E402
    METHODS,
    NOISY_PROBLEMS,
    initial_points,
    run_optuna,
    run_tuitune,
)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problem", default="hartmann6+noise0.05")
    ap.add_argument("--methods", default="bayes,optuna-gp")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--n-init", type=int, default=10)
    args = ap.parse_args(argv)
    problem = NOISY_PROBLEMS[args.problem]
    print(f"{args.problem}, {args.trials} trials, {args.seeds} seeds: regret, median [IQR]")
    print("| method | of the pick | of the best evaluated | of the best observed |")
    print("|---|---|---|---|")
    for method in args.methods.split(","):
        lib, name, options = METHODS[method]
        rows = []
        for seed in range(args.seeds):
            seen: list = []
            init = initial_points(problem, seed, args.n_init)
            if lib == "tuitune":
                pick, _ = run_tuitune(problem, name, options, seed, init, args.trials, seen)
            else:
                pick, _ = run_optuna(problem, name, seed, init, args.trials, seen)
            true = [problem.true(p) - problem.optimum for p, _ in seen]
            best_obs = true[int(np.nanargmin([y for _, y in seen]))]
            rows.append((pick, min(true), best_obs))
            print(f"{method} seed {seed}: pick {pick:.3g} best evaluated {min(true):.3g} "
                  f"best observed {best_obs:.3g}", file=sys.stderr, flush=True)
        r = np.array(rows)
        cells = []
        for col in r.T:
            q1, med, q3 = np.percentile(col, [25, 50, 75])
            cells.append(f"{med:.3g} [{q1:.2g}, {q3:.2g}]")
        print(f"| {method} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
