"""Population based training (Jaderberg et al. 2017), as decisions.

Each running trial is judged every `interval` of its own steps (counted from its
first reported point, so a clone gets a full interval before it is judged). If it
then ranks in the bottom `quantile` of the running population by its latest value,
and some top-`quantile` trial has a checkpoint, the rule returns an Exploit: the
engine replaces the laggard by a clone of the leader from the leader's checkpoint
(exploit), with the leader's mutable parameters perturbed (explore). The engine
records the lineage; the rule only decides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from tuitune.core.decisions import Exploit, Stop
from tuitune.core.history import History, TrialView, current_params
from tuitune.core.space import CategoricalParam, FixedParam, MomentumParam, Param, Pow2Param, Space
from tuitune.core.options import float_option, int_option
from tuitune.stopping.base import StoppingRule, fmt, loss


def perturb(param: Param, value: Any, factor: float) -> Any:
    """Move `value` by `factor` in the parameter's own scale, kept in bounds.

    Numbers are multiplied (for a momentum, 1 - value is); integers move at
    least one; powers of two and categoricals step to the neighbouring value
    (down for a factor below 1), as Ray Tune does for lists.
    """
    if isinstance(param, (Pow2Param, CategoricalParam)):
        values = param.values()
        i = values.index(param.validate(value)) + (1 if factor > 1 else -1)
        return values[min(max(i, 0), len(values) - 1)]
    if isinstance(param, MomentumParam):
        return param.validate(min(max(1 - (1 - value) * factor, param.low), param.high))
    low, high = getattr(param, "low", None), getattr(param, "high", None)
    if low is None or high is None or isinstance(value, bool):
        return value  # a kind with no numeric range: only resampling changes it
    moved = value * factor
    if param.discrete:  # IntParam: rounding must not swallow the move
        step = 1 if factor > 1 else -1
        moved = round(moved) if round(moved) != value else value + step
    return param.validate(min(max(moved, low), high))


class PBT(StoppingRule):
    """Population based training's exploit/explore step.

    Args:
        interval: judge each trial every this many of its own steps.
        quantile: the bottom and top fractions of the running population (at
            most 0.5; at least one trial each).
        perturb: the two factors a mutable number is multiplied by.
        resample_probability: chance that a mutable parameter is resampled from
            its range instead of perturbed.
        seed: with the target's id and interval number, seeds each exploit's
            randomness, so decisions do not depend on call order.
    """

    name = "pbt"
    options = frozenset({"interval", "quantile", "perturb", "resample_probability", "seed"})

    def __init__(
        self,
        space: Space,
        interval: int = 5,
        quantile: float = 0.25,
        perturb: tuple[float, float] = (0.8, 1.2),
        resample_probability: float = 0.25,
        seed: int = 0,
    ) -> None:
        self.space = space
        self.interval = int_option(self.name, "interval", interval, 1)
        self.quantile = float_option(self.name, "quantile", quantile, 0.0, 0.5, open_low=True)
        if not isinstance(perturb, (list, tuple)) or len(perturb) != 2:
            raise ValueError(f"pbt: perturb must be two factors, got {perturb!r}")
        self.factors = tuple(
            float_option(self.name, "perturb", f, 0.0, open_low=True) for f in perturb
        )
        self.resample_probability = float_option(
            self.name, "resample_probability", resample_probability, 0.0, 1.0
        )
        self.seed = int_option(self.name, "seed", seed, 0)
        # Per trial, the last interval number it was judged at (a trial is judged
        # once per interval, when it crosses the boundary).
        self._judged: dict[int, int] = {}

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], *, space: Space, max_steps: int | None, seed: int
    ) -> StoppingRule:
        return cls(space, **{"seed": seed, **options})

    def decide(self, history: History) -> list[Stop | Exploit]:
        population = [t for t in history.running if t.curve]
        ranked = sorted(population, key=lambda t: (loss(history.objective, t.curve[-1][1]), t.id))
        n = min(math.ceil(len(ranked) * self.quantile), len(ranked) // 2)
        top = ranked[:n]
        bottom = {t.id for t in ranked[len(ranked) - n :]} if n else set()
        out: list[Stop | Exploit] = []
        for trial in sorted(population, key=lambda t: t.id):
            k = self._boundary(trial)
            if k <= self._judged.get(trial.id, 0):
                continue
            self._judged[trial.id] = k
            if trial.protected or trial.id not in bottom:
                continue
            sources = [t for t in top if t.has_checkpoint]
            if sources:
                out.append(self._exploit(history, trial, sources, k, len(ranked)))
        return out

    def _boundary(self, trial: TrialView) -> int:
        """How many whole intervals the trial has run since its first point."""
        return (trial.curve[-1][0] - trial.curve[0][0]) // self.interval

    def _exploit(
        self, history: History, target: TrialView, sources: list[TrialView], k: int, n: int
    ) -> Exploit:
        rng = np.random.default_rng([self.seed, target.id, k])
        source = sources[int(rng.integers(len(sources)))]
        params, notes = self._explore(current_params(source.params, source.changes), rng)
        metric, pct = history.objective.metric, f"{self.quantile:.0%}"
        reason = (
            f"PBT at step {target.curve[-1][0]}: trial {target.id} ({metric} "
            f"{fmt(target.curve[-1][1])}, bottom {pct} of {n}) replaced by a clone of trial "
            f"{source.id} ({fmt(source.curve[-1][1])}, top {pct})"
            + (f"; {', '.join(notes)}" if notes else "; no mutable parameters")
        )
        return Exploit(target_id=target.id, source_id=source.id, params=params, reason=reason)

    def _explore(
        self, params: dict[str, Any], rng: np.random.Generator
    ) -> tuple[dict[str, Any], list[str]]:
        """Perturb or resample each mutable parameter; everything else is copied."""
        out, notes = dict(params), []
        for p in self.space.params:
            if not p.mutable or isinstance(p, FixedParam) or p.name not in params:
                continue
            if rng.random() < self.resample_probability:
                new = p.sample(rng)
            else:
                new = perturb(p, params[p.name], self.factors[int(rng.integers(2))])
            out[p.name] = new
            notes.append(f"{p.name} {params[p.name]!r}→{new!r}")
        return out, notes
