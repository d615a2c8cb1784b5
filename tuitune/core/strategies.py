"""One door to the search and stopping registries, for the spec loader and the engine.

"manual" is not a search algorithm: it means the engine suggests nothing and the
user starts every trial by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tuitune.core.history import Objective
from tuitune.core.space import Space

if TYPE_CHECKING:  # the registries load lazily (the spec loader needs only the names)
    from tuitune.search.base import Searcher

MANUAL = "manual"


def available_strategies() -> list[str]:
    from tuitune.search import STRATEGIES

    return [MANUAL, *STRATEGIES]


def available_rules() -> list[str]:
    """Every stopping rule's name, in the registry's order (the hand-off form lists them)."""
    from tuitune.stopping import RULES

    return list(RULES)


def build_searcher(strategy: str, space: Space, seed: int,
                   objective: Objective | Sequence[Objective],
                   options: Mapping[str, Any] | None = None) -> Searcher | None:
    """The searcher for a strategy, or None for manual mode. With several objectives
    (a sequence), strategies that optimise one refuse in one line (ValueError)."""
    if strategy == MANUAL:
        if options:
            raise ValueError(f"manual mode takes no options, got {sorted(options)}")
        return None
    from tuitune.search import make_searcher

    modes = (objective.mode if isinstance(objective, Objective)
             else tuple(o.mode for o in objective))
    return make_searcher(strategy, space, seed=seed, mode=modes, options=options or {})


def build_rules(configs: Sequence[tuple[str, Mapping[str, Any]]], space: Space,
                max_steps: int | None, seed: int = 0) -> list:
    if not configs:
        return []
    from tuitune.stopping import make_rules

    return make_rules(configs, space, max_steps, seed=seed)


def check_search(strategy: str, space: Space, options: Mapping[str, Any],
                 objective: Objective | Sequence[Objective]) -> None:
    if strategy != MANUAL and strategy not in available_strategies():
        raise ValueError(
            f"unknown strategy {strategy!r} (expected one of: {', '.join(available_strategies())})"
        )
    build_searcher(strategy, space, 0, objective, options)


def check_stopping(name: str, options: Mapping[str, Any], space: Space,
                   max_steps: int | None) -> None:
    build_rules([(name, options)], space, max_steps)
