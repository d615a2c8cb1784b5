"""Search strategies behind one ask/tell interface (see docs/search.md).

Searchers are pure: they get observations and pending trials and return
decisions; the engine starts trials and writes the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tuitune.core.space import Space
from tuitune.search.base import Observation, Searcher
from tuitune.search.bayes import BayesSearcher
from tuitune.search.coordinate import CoordinateSearcher
from tuitune.search.grid import GridSearcher
from tuitune.search.random import RandomSearcher

#: Strategy name (as written in a spec) -> searcher class.
STRATEGIES: dict[str, type[Searcher]] = {
    cls.name: cls for cls in (RandomSearcher, GridSearcher, CoordinateSearcher, BayesSearcher)
}

#: Valid option names per strategy.
OPTIONS: dict[str, set[str]] = {name: set(cls.option_specs) for name, cls in STRATEGIES.items()}


def make_searcher(
    strategy: str,
    space: Space,
    seed: int = 0,
    mode: str | Sequence[str] = "min",
    options: Mapping[str, Any] | None = None,
) -> Searcher:
    """Build a searcher by strategy name. With several objectives `mode` lists one
    mode per objective.

    Raises:
        ValueError: With a one-line message, for an unknown strategy, mode, or an
            unknown or invalid option, or several objectives for a strategy that
            optimises one.
    """
    cls = STRATEGIES.get(strategy)
    if cls is None:
        raise ValueError(
            f"unknown search strategy {strategy!r} (valid: {', '.join(sorted(STRATEGIES))})"
        )
    taken = sorted({"space", "seed", "mode"} & set(options or {}))
    if taken:  # the searcher's own arguments, which an option would collide with
        raise ValueError(f"{taken[0]!r} is not an option of search strategy {strategy!r} "
                         "(the seed is [search] seed; the mode is [objective] mode)")
    return cls(space, seed=seed, mode=mode, **dict(options or {}))


__all__ = [
    "OPTIONS",
    "STRATEGIES",
    "BayesSearcher",
    "CoordinateSearcher",
    "GridSearcher",
    "Observation",
    "RandomSearcher",
    "Searcher",
    "make_searcher",
]
