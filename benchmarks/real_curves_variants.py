"""Variants of tuitune's ASHA and Hyperband on the recorded curves (issue 18): which
rung geometry and which value at a rung would do better? A study, not shipped rules.

Variants: the reduction factor (eta 2, 3, 4), the first rung (min_steps 2), rungs
anchored at max_steps (max_steps // eta**k, as Hyperband's paper places its resources:
1 and 4 for 12 epochs with eta 3, instead of 1, 3, 9; for Hyperband its brackets then
start at 1, 4 and 12, the last never stopping anything), and judging a trial at a rung
by its best value so far (the engine's own trial value) instead of its value there.
Same simulator, seeds, targets and columns as bench_real_curves.py.

Run:  python benchmarks/real_curves_variants.py random \
          'ASHA eta3 (default),ASHA eta3 anchored,ASHA eta4,Hyperband eta3 (default)' 100 \
          [at-rung,best] [mnist_mlp,momentum_sgd]
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_real_curves as b  # noqa: E402
import real_curves as rc  # noqa: E402

from tuitune.core.history import History  # noqa: E402
from tuitune.stopping import ASHA, Hyperband  # noqa: E402
from tuitune.stopping.asha import _weighted_round_robin  # noqa: E402


def best_so_far(history: History) -> History:
    """Every curve replaced by its running best (min: the objective is val_loss)."""
    trials = []
    for t in history.trials:
        best, out = math.inf, []
        for s, v in t.curve:
            best = min(best, v) if math.isfinite(v) else best
            out.append((s, best if math.isfinite(best) else v))
        trials.append(dataclasses.replace(t, curve=tuple(out)))
    return History(history.objective, tuple(trials), max_steps=history.max_steps)


def anchored(eta: int, top: int, lowest: int = 1) -> list[int]:
    """top // eta**k for k >= 1 while >= lowest, ascending (12, eta 3: [1, 4])."""
    out, k = set(), 1
    while top // eta**k >= lowest:
        out.add(top // eta**k)
        k += 1
    return sorted(out)


class AnchoredASHA(ASHA):
    """ASHA whose rungs are anchored at max_steps."""

    def _rungs_for(self, trial, limit: int) -> list[int]:
        first = self._min_steps_for(trial)
        return [r for r in anchored(self.eta, int(self.max_steps), self.min_steps)
                if first <= r <= limit]


class AnchoredHyperband(AnchoredASHA, Hyperband):
    """Brackets starting at the anchored rungs and at max_steps (never stops)."""

    def __init__(self, min_steps: int, eta: int, max_steps: int) -> None:
        Hyperband.__init__(self, min_steps, eta, max_steps)
        starts = [*anchored(eta, max_steps, min_steps), max_steps]
        s_max = len(starts) - 1
        sizes = [-(-(s_max + 1) * eta**s // (s + 1)) for s in range(s_max, -1, -1)]
        self.brackets = list(zip(starts, sizes, strict=True))
        self._cycle = _weighted_round_robin(sizes)


VARIANTS = {
    "ASHA eta3 (default)": lambda e: ASHA(1, 3, e),
    "ASHA eta3 anchored": lambda e: AnchoredASHA(1, 3, e),
    "ASHA eta4": lambda e: ASHA(1, 4, e),
    "ASHA eta2": lambda e: ASHA(1, 2, e),
    "ASHA eta3 min2": lambda e: ASHA(2, 3, e),
    "Hyperband eta3 (default)": lambda e: Hyperband(1, 3, e),
    "Hyperband eta3 anchored": lambda e: AnchoredHyperband(1, 3, e),
    "Hyperband eta4": lambda e: Hyperband(1, 4, e),
}


class Variant(b.Tuitune):
    def __init__(self, rec, seed, searcher, make, best=False):
        super().__init__(rec, seed, searcher, None)
        self.rule, self.best = make(rec.epochs), best

    def decide(self, history: History) -> list[int]:
        h = best_so_far(history) if self.best else history
        return [d.trial_id for d in self.rule.decide(h)]


def run(sample, workers, names, best_flags, searcher, seeds, refs=100) -> None:
    rec = rc.load(sample)
    truth = rec.true_final()
    opt = float(truth.min())
    top10 = float(np.quantile(truth[np.isfinite(truth)], 0.1))
    budget = 64 * rec.epochs
    ref = [b.simulate(rec, b.STRATEGIES["random"](rec, 10_000 + s), 10_000 + s, workers,
                      budget, truth, opt) for s in range(refs)]
    target = float(np.median([o.regret_at(np.array([budget]))[0] for o in ref]))
    for name in names:
        for best in best_flags:
            t0 = time.perf_counter()
            outs = [b.simulate(rec, Variant(rec, s, searcher, VARIANTS[name], best), s, workers,
                               budget, truth, opt) for s in range(seeds)]
            r = b.summarise(name, workers, outs, target, budget, top10, truth,
                            time.perf_counter() - t0)
            medians = " ".join(f"{r.points[c][1]:.4f}" for c in r.points)
            print(f"{sample:12s} W={workers} {searcher}+{name:26s} "
                  f"{'best-so-far' if best else 'at-rung    '} to-target {r.to_target:5.0f} "
                  f"({budget / r.to_target:4.1f}x) median@B/10,4,2,1 {medians} "
                  f"pick1@B {r.at_b_observed:.4f} false {r.false_stop:.1%} "
                  f"trials {r.trials:.0f}", flush=True)


if __name__ == "__main__":
    searcher, names, seeds = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
    flags = tuple(f == "best" for f in sys.argv[4].split(",")) if len(sys.argv) > 4 else (False,)
    samples = sys.argv[5].split(",") if len(sys.argv) > 5 else ("mnist_mlp", "momentum_sgd")
    for sample in samples:
        for w in (1, 4):
            run(sample, w, names, flags, searcher, seeds)
