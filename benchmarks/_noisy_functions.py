"""Noisy and failing benchmark problems: what the searcher is told differs from
what a configuration is worth.

Each problem has a noise-free value (`true`) and a noisy observation (`observe`):
the searchers see only observations; a method is judged by the noise-free value
of the configuration it would pick (its incumbent), minus the optimum.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from _functions import BRANIN, HARTMANN6, Problem
from tuitune.core.space import FloatParam, IntParam, MomentumParam, Pow2Param, Space


@dataclass(frozen=True)
class NoisyProblem:
    name: str
    space: Space
    true: Callable[[Mapping[str, Any]], float]
    observe: Callable[[Mapping[str, Any], np.random.Generator], float]
    optimum: float


def with_noise(problem: Problem, sd: float) -> NoisyProblem:
    """The problem with Gaussian noise of standard deviation `sd` on each observation."""
    return NoisyProblem(
        f"{problem.name}+noise{sd:g}",
        problem.space,
        problem.fn,
        lambda p, rng: problem.fn(p) + sd * float(rng.normal()),
        problem.optimum,
    )


# -- an MLP-shaped problem with divergence ------------------------------------------

#: SGD with momentum: six hyperparameters, as in the issue's real tuning problem.
MLP_SPACE = Space(
    (
        FloatParam("lr", low=1e-4, high=1.0, log=True),
        MomentumParam("momentum", low=0.5, high=0.99),
        Pow2Param("batch_size", low=16, high=512),
        FloatParam("weight_decay", low=1e-6, high=1e-2, log=True),
        FloatParam("dropout", low=0.0, high=0.6),
        IntParam("units", low=16, high=512, log=True),
    )
)
#: The best effective step size sits just below the edge where training diverges,
#: as it does for real networks.
_BEST_STEP, _EDGE = -0.2, 0.25
_CHANCE = 2.3  # the loss of an untrained 10-class classifier
MLP_NOISE = 0.035  # two runs of one configuration differ by about 0.05


def _effective_step(p: Mapping[str, Any]) -> float:
    """log10 of SGD's effective step: lr / (1 - momentum), scaled down for large
    batches; wider networks diverge a little earlier."""
    return (
        math.log10(p["lr"])
        - math.log10(1.0 - p["momentum"])
        - 0.5 * math.log10(p["batch_size"] / 64.0)
        + 0.1 * math.log2(p["units"] / 64.0)
    )


def mlp_loss(p: Mapping[str, Any]) -> float:
    """Noise-free final validation loss; a configuration past the edge counts as
    untrained (it diverges)."""
    step = _effective_step(p)
    if step > _EDGE:
        return _CHANCE
    under = max(_BEST_STEP - step, 0.0)
    over = max(step - _BEST_STEP, 0.0)
    log_units = math.log2(p["units"])
    best_dropout = 0.1 + 0.05 * (log_units - 4.0)  # wider nets want more dropout
    return (
        0.25
        + 2.0 * (1.0 - math.exp(-0.25 * under * under))
        + 0.6 * over * over
        + 0.02 * (math.log10(p["weight_decay"]) + 4.0) ** 2
        + 0.5 * (p["dropout"] - best_dropout) ** 2
        + 0.01 * (log_units - 8.0) ** 2
    )


def mlp_observe(p: Mapping[str, Any], rng: np.random.Generator) -> float:
    """One training run: diverges (NaN, or a final loss of 10 to 10^4) with a
    probability that rises steeply at the edge; otherwise the loss plus noise."""
    step = _effective_step(p)
    p_diverge = 1.0 / (1.0 + math.exp(-(step - _EDGE) / 0.05))
    if rng.random() < p_diverge:
        return math.nan if rng.random() < 0.5 else 10.0 ** rng.uniform(1.0, 4.0)
    return mlp_loss(p) + MLP_NOISE * float(rng.normal())


MLP_DIVERGE = NoisyProblem("mlp-diverge", MLP_SPACE, mlp_loss, mlp_observe, 0.25)

NOISY_PROBLEMS = {
    p.name: p
    for p in (
        with_noise(BRANIN, 1.0),
        with_noise(BRANIN, 5.0),
        with_noise(HARTMANN6, 0.05),
        with_noise(HARTMANN6, 0.2),
        MLP_DIVERGE,
    )
}
