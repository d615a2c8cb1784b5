"""Coordinate descent: tune one parameter (or group) at a time around the incumbent."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, ClassVar

from tuitune.core.decisions import Exhausted, Suggest, Wait
from tuitune.core.space import CategoricalParam, Param, Space
from tuitune.core.options import integer, parsed
from tuitune.search.base import Searcher, into_space

#: Ranks of the default order, the way practitioners babysit a network.
LR, MOMENTUM, BATCH, ARCH, DECAY, REG, REST = range(7)

_ROLE_RANK = {
    "learning_rate": LR,
    "momentum": MOMENTUM, "beta_1": MOMENTUM, "beta_2": MOMENTUM,
    "batch_size": BATCH,
    "architecture": ARCH,
    "schedule": DECAY,
    "weight_decay": REG, "regularization": REG,
    "other": REST,
}


def param_rank(param: Param) -> int:
    """Rank of a parameter in the default order, from its role (see `tuitune.core.roles`)."""
    return _ROLE_RANK[param.role]


def default_order(space: Space) -> list[list[str]]:
    """Every searchable parameter as its own group, by `param_rank`, ties in space order."""
    dims = list(space.dims)
    ranked = sorted(range(len(dims)), key=lambda i: (param_rank(dims[i]), i))
    return [[dims[i].name] for i in ranked]


def parse_order(value: Any) -> list[list[str]]:
    """Validate the `order` option: names, or lists of names for groups."""
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ValueError("expected a list of parameter names or lists of names")
    groups = []
    for item in value:
        group = [item] if isinstance(item, str) else item
        if (
            not isinstance(group, Sequence)
            or not group
            or not all(isinstance(n, str) for n in group)
        ):
            raise ValueError(f"expected a parameter name or a list of names, got {item!r}")
        groups.append(list(group))
    return groups


class CoordinateSearcher(Searcher):
    """Sweeps the groups in order; each step varies one group around the incumbent.

    The incumbent is the best observation so far (hand trials included), or the
    space defaults before any result, which are then suggested first. Step `s` of a
    sweep tries `points` values of its group spread evenly over a window of the
    unit encoding: the whole range in the first sweep, then a window centred on the
    incumbent that halves with each sweep. Categoricals try every choice. A group of
    k parameters tries a product grid of max(2, round(points ** (1/k))) values each.
    A step starts once every point of the previous one is observed, since it
    centres on the incumbent; with concurrent trials the searcher says `Wait`
    while the previous step's last points run.

    Options:
        order: Parameter names or lists of names (groups); unlisted parameters
            follow in the default order (see `param_rank`).
        points: Values per coordinate per sweep (default 5).
        sweeps: Passes over all groups (default 3).
    """

    name: ClassVar[str] = "coordinate"
    option_specs: ClassVar[dict[str, Any]] = {
        "order": parsed(parse_order),
        "points": integer(2),
        "sweeps": integer(1),
    }

    def __init__(self, space: Space, seed: int = 0, mode: str = "min", **options: Any) -> None:
        super().__init__(space, seed, mode, **options)
        self.points: int = self.option("points", 5)
        self.sweeps: int = self.option("sweeps", 3)
        self.groups = self._groups(self.option("order", []))
        self.sweep = 0
        self.group_index = 0
        self._step: list[dict[str, Any]] | None = None

    def _groups(self, order: list[list[str]]) -> list[list[str]]:
        searchable = {p.name for p in self.space.dims}
        listed: list[str] = []
        for group in order:
            for n in group:
                if n not in searchable:
                    raise ValueError(f"search strategy 'coordinate': order: {n!r} is not a "
                                     "searchable parameter")
                listed.append(n)
        rest = [g for g in default_order(self.space) if g[0] not in listed]
        return [list(g) for g in order] + rest

    def _ask(self) -> Suggest | Wait | Exhausted:
        if not self.groups:
            return self._start_point() or Exhausted("no searchable parameters")
        start = self._start_point()
        if start is not None:
            return start
        while self.sweep < self.sweeps:
            if self._step is None:
                self._step = self._step_points()
            group = self.groups[self.group_index]
            for point in self._step:
                if self.is_new(point):
                    shown = ", ".join(
                        f"{n}={point[n]:.4g}" if isinstance(point[n], float) else f"{n}={point[n]}"
                        for n in group if n in point
                    )
                    return self.suggest(
                        point, f"sweep {self.sweep + 1}/{self.sweeps}, tuning {shown}"
                    )
            waiting = sum(1 for p in self._step if self.is_pending(p))
            if waiting and not self._last_step():
                return Wait(f"the next step centres on the incumbent: {waiting} trials running")
            self._advance()
        return Exhausted(f"coordinate descent finished {self.sweeps} sweeps")

    def _start_point(self) -> Suggest | None:
        """Before any result and anything pending, try the defaults (the start)."""
        if self._observations or self._pending:
            return None
        defaults = self.space.defaults()
        return self.suggest(defaults, "coordinate descent starts from the defaults")

    def _last_step(self) -> bool:
        return self.sweep == self.sweeps - 1 and self.group_index == len(self.groups) - 1

    def _advance(self) -> None:
        self._step = None
        self.group_index += 1
        if self.group_index == len(self.groups):
            self.group_index = 0
            self.sweep += 1

    def _step_points(self) -> list[dict[str, Any]]:
        # The incumbent may lie outside a space edited since (docs/search.md): the step
        # keeps every other parameter at the centre, so the centre moves inside first.
        centre = into_space(self.space, self.incumbent() or self.space.defaults())
        # Only the parameters that exist at the incumbent are walked; a step whose
        # parameters are all inactive there is empty (and skipped).
        group = [self.space[n] for n in self.groups[self.group_index] if n in centre]
        if not group:
            return []
        per_dim = (
            self.points if len(group) == 1 else max(2, round(self.points ** (1.0 / len(group))))
        )
        value_lists = [self._values(p, centre[p.name], per_dim) for p in group]
        points = []
        for combo in itertools.product(*value_lists):
            point = dict(centre)
            point.update(zip([p.name for p in group], combo, strict=True))
            points.append(dict(self.suggest(point, "").params))
        return points

    def _values(self, p: Param, current: Any, n: int) -> list[Any]:
        if isinstance(p, CategoricalParam):
            return list(p.choices)
        half = 0.5 * 0.5**self.sweep
        try:
            c = min(max(p.to_unit(current), 0.0), 1.0)
        except (ValueError, TypeError):
            c = 0.5
        lo = min(max(c - half, 0.0), 1.0 - 2 * half)
        units = [lo + i * 2 * half / (n - 1) for i in range(n)]
        values: list[Any] = []
        for u in units:
            v = p.from_unit(u)
            if v not in values:
                values.append(v)
        return values
