"""Random search: independent draws from the declared distributions."""

from __future__ import annotations

from typing import Any, ClassVar

from tuitune.core.decisions import Exhausted, Suggest
from tuitune.search.base import Searcher


class RandomSearcher(Searcher):
    """Samples each parameter on its declared scale (log, powers of two, 1 - 10^u).

    Draws come from one `numpy.random.Generator(seed)`; a draw that repeats an
    observed or pending configuration is redrawn.
    """

    name: ClassVar[str] = "random"
    multi_objective: ClassVar[bool] = True  # draws ignore the results
    option_specs: ClassVar[dict[str, Any]] = {}

    def _ask(self) -> Suggest | Exhausted:
        params = self.random_new(self._rng)
        if params is None:
            return Exhausted("random search found no configuration that is not already tried")
        return self.suggest(params, "random draw")
