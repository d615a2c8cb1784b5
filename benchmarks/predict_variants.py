"""predict's two constants on the real-curve replay (issue 18): the stopping probability
and top_k, as extra strategies of bench_real_curves.py, run in one invocation with ASHA.

    python benchmarks/predict_variants.py --sample momentum_sgd --workers 1 4 --seeds 100 \
        --reference-seeds 100 --only random 'random + ASHA' 'random + predict' \
        'random + predict p=0.2' ...

Every bench_real_curves.py flag works; the variants are named 'random + predict p=P',
'random + predict k=K' and 'random + predict k=K p=P', and 'random + ASHA + predict'
(with ' p=0.1' or ' k=1'): both rules asked each round, as a spec's
`rules = ["asha", "predict"]` runs them (the engine acts on the first decision about a
trial).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_real_curves as bench  # noqa: E402

from tuitune.core.history import History  # noqa: E402
from tuitune.stopping import ASHA  # noqa: E402
from tuitune.stopping.predict import PredictRule  # noqa: E402


def _variant(**options: float) -> Callable[[bench.Recording, int], bench.Strategy]:
    def make(rec: bench.Recording, seed: int) -> bench.Strategy:
        strategy = bench.Tuitune(rec, seed, "random", None)
        strategy.rule = PredictRule(max_steps=rec.epochs, **options)
        return strategy
    return make


class _Composed:
    """ASHA and predict as the engine runs a list of rules: each asked every round, the
    first decision about a trial acted on."""

    def __init__(self, *rules: Any) -> None:
        self.rules = rules

    def decide(self, history: History) -> list:
        seen: set[int] = set()
        out = []
        for rule in self.rules:
            for decision in rule.decide(history):
                if decision.trial_id not in seen:
                    seen.add(decision.trial_id)
                    out.append(decision)
        return out


def _with_asha(**options: float) -> Callable[[bench.Recording, int], bench.Strategy]:
    def make(rec: bench.Recording, seed: int) -> bench.Strategy:
        strategy = bench.Tuitune(rec, seed, "random", None)
        strategy.rule = _Composed(ASHA(1, 3, rec.epochs),
                                  PredictRule(max_steps=rec.epochs, **options))
        return strategy
    return make


bench.STRATEGIES["random + ASHA + predict"] = _with_asha()
bench.STRATEGIES["random + ASHA + predict p=0.1"] = _with_asha(probability=0.1)
bench.STRATEGIES["random + ASHA + predict k=1"] = _with_asha(top_k=1)
for p in (0.1, 0.2, 0.3):
    bench.STRATEGIES[f"random + predict p={p}"] = _variant(probability=p)
for k in (1, 2):
    bench.STRATEGIES[f"random + predict k={k}"] = _variant(top_k=k)
    bench.STRATEGIES[f"random + predict k={k} p=0.2"] = _variant(top_k=k, probability=0.2)

if __name__ == "__main__":
    sys.exit(bench.main())
