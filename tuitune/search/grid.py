"""Grid search with optional zoom rounds around the best point."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from tuitune.core.decisions import Exhausted, Suggest, Wait
from tuitune.core.space import CategoricalParam, Param
from tuitune.core.options import integer
from tuitune.search.base import Searcher


class GridSearcher(Searcher):
    """Evaluates every point of a grid, then optionally zooms in.

    Round 0 is the coarse grid: `points_per_dim` values per continuous dimension
    spread evenly over its unit encoding (so log scales get geometric steps, end
    points included) and every value of a discrete dimension when there are at
    most that many. Points are enumerated with the last parameter varying fastest.

    Each zoom round starts once every point of the previous round is observed
    (with concurrent trials, `Wait` while the round's last points run) and centres a
    box of half the previous span (in the unit encoding, shifted to stay inside
    the cube) on the best observation so far, hand trials included, laying the
    same number of points per dimension over it. Categorical dimensions are held
    at the best point's value while zooming. Points already observed are skipped.

    Options:
        points_per_dim: Values per dimension (default 3).
        zoom: Number of zoom rounds after the coarse grid (default 0).
    """

    name: ClassVar[str] = "grid"
    option_specs: ClassVar[dict[str, Any]] = {
        "points_per_dim": integer(1),
        "zoom": integer(0),
    }

    def __init__(self, space: Any, seed: int = 0, mode: str = "min", **options: Any) -> None:
        super().__init__(space, seed, mode, **options)
        self.points_per_dim: int = self.option("points_per_dim", 3)
        self.zoom: int = self.option("zoom", 0)
        self.round = 0
        d = len(space.dims)
        self.box = (np.zeros(d), np.ones(d))
        self._points = self._coarse_points()

    def _coarse_points(self) -> list[dict[str, Any]]:
        return self._product([p.grid(self.points_per_dim) for p in self.space.dims])

    def _product(self, value_lists: list[list[Any]]) -> list[dict[str, Any]]:
        names = [p.name for p in self.space.dims]
        points, seen = [], set()
        for combo in itertools.product(*value_lists):
            point = dict(self.suggest(dict(zip(names, combo, strict=True)), "").params)
            key = self.space.key(point)
            if key not in seen:  # points differing only in inactive parameters coincide
                seen.add(key)
                points.append(point)
        return points

    def round_points(self) -> list[dict[str, Any]]:
        """The points of the current round, in enumeration order."""
        return list(self._points)

    def _ask(self) -> Suggest | Wait | Exhausted:
        while True:
            total = len(self._points)
            for i, point in enumerate(self._points):
                if self.is_new(point):
                    label = "coarse grid" if self.round == 0 else f"zoom round {self.round}"
                    return self.suggest(point, f"{label}: point {i + 1} of {total}")
            waiting = sum(1 for p in self._points if self.is_pending(p))
            if self.round >= self.zoom:
                done = f"grid search done ({self.round} zoom rounds)"
                return Exhausted(done + (f"; {waiting} trials still running" if waiting else ""))
            if waiting:
                # The next box centres on the best result: it needs this round's.
                return Wait(f"zoom round {self.round + 1} waits for {waiting} running trials")
            self._zoom_in()

    def _zoom_in(self) -> None:
        best = self._best_observation()
        lo, hi = self.box
        span = (hi - lo) / 2.0
        centre = (lo + hi) / 2.0
        best_params = None
        if best is not None:
            u = self.encode(best.params)
            if u is not None:
                centre, best_params = u, best.params
        new_lo = np.clip(centre - span / 2.0, 0.0, 1.0 - span)
        self.box = (new_lo, new_lo + span)
        self.round += 1
        value_lists = [
            self._zoom_values(p, float(a), float(b), best_params)
            for p, a, b in zip(self.space.dims, *self.box, strict=True)
        ]
        self._points = self._product(value_lists)

    def _zoom_values(
        self, p: Param, lo: float, hi: float, best: Mapping[str, Any] | None
    ) -> list[Any]:
        if isinstance(p, CategoricalParam):
            return [best.get(p.name, p.initial()) if best is not None else p.initial()]
        n = self.points_per_dim
        units = [(lo + hi) / 2.0] if n == 1 else [lo + i * (hi - lo) / (n - 1) for i in range(n)]
        values: list[Any] = []
        for u in units:
            v = p.from_unit(u)
            if not any(_same(v, w) for w in values):
                values.append(v)
        return values


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
    return bool(a == b)
