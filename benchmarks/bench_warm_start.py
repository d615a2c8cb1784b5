"""Warm start: does a second run seeded with a first run's trials reach the first
run's best in fewer new trials than a cold start?

A quickstart-like problem (the quickstart's space: lr log [0.003, 3], hidden int log
[4, 64], batch_size pow2 [16, 256]; a smooth synthetic loss with its optimum inside),
no processes: the searchers are driven the way the supervisor drives them. Per seed:

1. run A: `bayes` (seed s) asks and is told `--first` trials;
2. run B warm: `bayes` (seed s + 1000) whose history is built each ask by the engine's
   own warm-start path: A's trials as `TrialView`s, filtered by
   `tuitune.engine.warm_start.select` against B's space, added by `with_imports`,
   then `searcher.sync(history)` as `Supervisor._fill_from_search` does;
3. run B cold: the same without the imports.

Counted: B's new trials until one is at least as good as A's best (a run that does
not get there within `--cap` counts as cap + 1). Median and quartiles over seeds.

Reproduce (a few minutes on 2 cores):

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_warm_start.py --seeds 10
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tuitune.core.history import COMPLETED, History, Objective, TrialView  # noqa: E402
from tuitune.core.space import FloatParam, IntParam, Pow2Param, Space  # noqa: E402
from tuitune.engine.warm_start import select, with_imports  # noqa: E402
from tuitune.search import make_searcher  # noqa: E402

SPACE = Space((FloatParam("lr", low=0.003, high=3.0, log=True),
               IntParam("hidden", low=4, high=64, log=True),
               Pow2Param("batch_size", low=16, high=256)))
OBJECTIVE = Objective("val_loss", "min")


def quickstart_loss(p: Mapping[str, Any]) -> float:
    """val_loss-like: best near lr 0.2, hidden 40, batch 32; lr matters most."""
    return (0.1 + 0.6 * (math.log10(p["lr"]) - math.log10(0.2)) ** 2
            + 0.08 * (math.log2(p["hidden"]) - math.log2(40)) ** 2
            + 0.03 * (math.log2(p["batch_size"]) - 5) ** 2)


def _views(results: list[tuple[dict[str, Any], float]]) -> tuple[TrialView, ...]:
    return tuple(TrialView(id=i + 1, state=COMPLETED, params=p, origin="bayes",
                           curve=((20, v),), value=v) for i, (p, v) in enumerate(results))


def run_a(seed: int, n: int) -> list[tuple[dict[str, Any], float]]:
    searcher = make_searcher("bayes", SPACE, seed=seed, mode="min", options={})
    out = []
    for _ in range(n):
        params = dict(searcher.ask().params)
        value = quickstart_loss(params)
        searcher.tell(params, value)
        out.append((params, value))
    return out


def trials_to_reach(seed: int, target: float, record: dict[str, Any] | None, cap: int) -> int:
    searcher = make_searcher("bayes", SPACE, seed=seed, mode="min", options={})
    own: list[tuple[dict[str, Any], float]] = []
    for n in range(1, cap + 1):
        history = with_imports(History(OBJECTIVE, _views(own)), record)
        searcher.sync(history)
        decision = searcher.ask()
        params = dict(decision.params)
        value = quickstart_loss(params)
        own.append((params, value))
        if value <= target:
            return n
    return cap + 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first", type=int, default=20, help="trials of run A")
    ap.add_argument("--cap", type=int, default=40, help="most new trials of run B")
    args = ap.parse_args()
    warm_n, cold_n, imported = [], [], []
    t0 = time.time()
    for seed in range(args.seeds):
        a = run_a(seed, args.first)
        target = min(v for _, v in a)
        taken, refused = select(SPACE, "A", _views(a))
        record = {"sources": ["A"], "imported": taken, "refused": refused}
        imported.append(len(taken))
        warm = trials_to_reach(seed + 1000, target, record, args.cap)
        cold = trials_to_reach(seed + 1000, target, None, args.cap)
        warm_n.append(warm)
        cold_n.append(cold)
        print(f"seed {seed}: A best {target:.4f}; B warm {warm}, cold {cold} new trials",
              flush=True)
    q = lambda xs: np.percentile(xs, [50, 25, 75])  # noqa: E731
    for name, xs in (("warm start", warm_n), ("cold start", cold_n)):
        m, lo, hi = q(xs)
        print(f"{name}: median {m:g} new trials [IQR {lo:g}-{hi:g}] to reach run A's best")
    wins = sum(w < c for w, c in zip(warm_n, cold_n, strict=True))
    print(f"warm start fewer in {wins} of {args.seeds} seeds; imported {imported[0]} of "
          f"{args.first} per seed; {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
