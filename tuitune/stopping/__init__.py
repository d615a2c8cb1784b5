"""Early-stopping rules and population based training, composable with any search.

Each rule reads a frozen History and returns decisions (`Stop`, `Exploit`); the
engine acts on them. `make_rules` builds the rules a spec names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tuitune.core.space import Space
from tuitune.stopping.asha import ASHA, Hyperband, hyperband_brackets, rung_steps
from tuitune.stopping.base import StoppingRule
from tuitune.stopping.divergence import DivergenceRule
from tuitune.stopping.median import MedianRule
from tuitune.stopping.patience import PatienceRule
from tuitune.stopping.pbt import PBT
from tuitune.stopping.predict import PredictRule

RULES: dict[str, type[StoppingRule]] = {
    cls.name: cls
    for cls in (MedianRule, ASHA, Hyperband, PredictRule, DivergenceRule, PatienceRule, PBT)
}

#: The options each rule accepts in a spec.
OPTIONS: dict[str, set[str]] = {name: set(cls.options) for name, cls in RULES.items()}


def make_rules(
    configs: Sequence[tuple[str, Mapping[str, Any]]],
    space: Space,
    max_steps: int | None,
    seed: int = 0,
) -> list[StoppingRule]:
    """Build stopping rules from (name, options) pairs, in order.

    Args:
        configs: e.g. ``[("asha", {"reduction_factor": 3}), ("divergence", {})]``.
        space: the search space (PBT perturbs its mutable parameters).
        max_steps: the budget's steps per trial, the default for ASHA/Hyperband.
        seed: the run's seed, the default for rules with randomness.

    Raises:
        ValueError: an unknown rule or option, or a bad value; one line, naming
            the rule (the spec loader adds the file and key path).
    """
    rules = []
    for name, options in configs:
        if name not in RULES:
            raise ValueError(f"unknown stopping rule {name!r}; known: {', '.join(RULES)}")
        unknown = sorted(set(options) - OPTIONS[name])
        if unknown:
            known = ", ".join(sorted(OPTIONS[name]))
            raise ValueError(f"{name}: unknown option {unknown[0]!r}; known: {known}")
        try:
            rules.append(
                RULES[name].from_options(options, space=space, max_steps=max_steps, seed=seed)
            )
        except TypeError as exc:  # a wrongly typed value reaching a constructor
            raise ValueError(f"{name}: {exc}") from None
    return rules


__all__ = [
    "ASHA",
    "OPTIONS",
    "PBT",
    "RULES",
    "DivergenceRule",
    "Hyperband",
    "MedianRule",
    "PatienceRule",
    "PredictRule",
    "StoppingRule",
    "hyperband_brackets",
    "make_rules",
    "rung_steps",
]
