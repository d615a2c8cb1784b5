"""How the GP sees a conditional space: imputation at a constant plus an indicator.

A GP needs one fixed-dimensional input, but a conditional parameter (the units of
layer 3, SGD's momentum) has no value where its condition fails. Following
Lévesque et al. 2017 ("Bayesian optimization for conditional hyperparameter
spaces", IJCNN), who show that how inactive parameters are imputed matters and
that the kernel should know which branch a point is on:

- an inactive dimension is imputed at one constant (`INACTIVE_UNIT`, the centre of
  its unit interval), so two configurations that both lack a parameter do not
  differ along it;
- each conditional parameter adds an indicator input (1 where it is active, 0
  where not), modelled like a categorical (the Hamming term of the kernel), so
  configurations on different branches are apart by an amount whose length scale
  is fitted from the data: a learned, soft version of their conditional kernel,
  which sets the similarity across branches to zero.

The acquisition is still optimised over the unit cube of the space: `embed` maps
a cube point to the model's input (deciding activity from the decoded parent
values), and `OnCube` wraps the GP so the optimiser never sees the extra inputs.
An unconditional space embeds as itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tuitune.core.conditions import Clause
from tuitune.core.space import (
    INACTIVE_UNIT,
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    Param,
    Space,
)


class Embedding:
    """Unit-cube points (n, d) to model inputs (n, d + k), k conditional dimensions."""

    def __init__(self, space: Space) -> None:
        self.space = space
        self.dims = space.dims
        self.cond = [j for j, p in enumerate(self.dims) if p.when is not None]
        self._column = {p.name: j for j, p in enumerate(self.dims)}
        parents = {n for p in space.params for n in (p.when.names if p.when else ())}
        self._parent_cols = [j for j, p in enumerate(self.dims) if p.name in parents]
        self._last: tuple[tuple[int, bytes], np.ndarray] = ((-1, b""), np.zeros((0, 0), bool))
        self.flagged = _needs_indicator(space, [self.dims[j] for j in self.cond])
        # Compiled once: each distinct clause, and for each conditional parameter
        # (parents first) the clauses it needs. The acquisition decides activity
        # for thousands of points per ask, so the walk over the space and the
        # repeated clauses (`x1 == 0` in four conditions) are paid for here.
        self._clauses = {c: self._compile(c) for p in space.ordered
                         for c in (p.when.clauses if p.when else ())}
        self._plan = [(p.name, p.when.clauses) for p in space.ordered if p.when is not None]
        self._cond_names = [self.dims[j].name for j in self.cond]

    @property
    def width(self) -> int:
        return len(self.dims) + len(self.flagged)

    def model_is_cat(self, is_cat: np.ndarray) -> np.ndarray:
        """The categorical mask of the model's inputs: the indicators are categorical."""
        return np.concatenate([is_cat, np.ones(len(self.flagged), dtype=bool)])

    def active(self, u: np.ndarray) -> np.ndarray:
        """(n, k) booleans: which conditional dimensions each cube point has."""
        n = len(u)
        if not self.cond:
            return np.ones((n, 0), dtype=bool)
        # The local search moves continuous coordinates while the parents (mostly
        # discrete) stay put: the last answer is reused when the parents' columns
        # are the same.
        key = (len(u), u[:, self._parent_cols].tobytes())
        if key == self._last[0]:
            return self._last[1]
        active = self._active(u)
        self._last = (key, active)
        return active

    def _active(self, u: np.ndarray) -> np.ndarray:
        holds = {c: f(u) for c, f in self._clauses.items()}  # each clause once
        alive: dict[str, np.ndarray] = {}  # conditional parameters only: the rest always are
        for name, clauses in self._plan:  # parents before children
            ok = np.ones(len(u), dtype=bool)
            for c in clauses:
                ok &= holds[c]
                if c.name in alive:
                    ok &= alive[c.name]
            alive[name] = ok
        return np.column_stack([alive[name] for name in self._cond_names])

    def _compile(self, clause: Clause) -> Callable[[np.ndarray], np.ndarray]:
        """Whether the clause holds, as a function of cube points (n, d). The common
        parents (categorical, integer, float) are decoded as arrays; other kinds
        once per distinct value."""
        parent = self.space[clause.name]
        if isinstance(parent, FixedParam):
            const = clause.holds(parent.value)
            return lambda u: np.full(len(u), const)
        j = self._column[clause.name]
        if isinstance(parent, CategoricalParam):
            table = np.array([clause.holds(c) for c in parent.choices], dtype=bool)
            n = len(parent.choices)
            return lambda u: table[np.clip((u[:, j] * n).astype(int), 0, n - 1)]
        if isinstance(parent, (FloatParam, IntParam)):
            return lambda u: _compare(clause, _numbers(parent, u[:, j]))

        def by_value(u: np.ndarray) -> np.ndarray:
            levels, where = np.unique(u[:, j], return_inverse=True)
            holds = np.array([clause.holds(parent.from_unit(float(x))) for x in levels],
                             dtype=bool)
            return holds[where.ravel()]
        return by_value

    def embed(self, u: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """Model inputs for cube points (activity decided from them unless given)."""
        if not self.cond:
            return u
        active = self.active(u) if active is None else active
        d = len(self.dims)
        x = np.empty((len(u), self.width))
        x[:, :d] = u
        x[:, self.cond] = np.where(active, x[:, self.cond], INACTIVE_UNIT)
        x[:, d:] = active[:, self.flagged]
        return x

    def embed_params(self, params: Mapping[str, Any], u: np.ndarray) -> np.ndarray:
        """The model input of one configuration, its encoding `u` given: activity is
        read from the configuration itself (absent parameters are inactive)."""
        if not self.cond:
            return u
        active = np.array([[self.dims[j].name in params for j in self.cond]])
        return self.embed(u[None, :], active)[0]


def _needs_indicator(space: Space, conditional: list[Param]) -> list[int]:
    """Which conditional parameters get an indicator input: one per distinct
    condition (with the conditions it depends on), and none for a condition on
    categoricals alone, whose branches the kernel's Hamming term on the parents
    already tells apart. A condition on a number (`layers >= 3`) needs one: a
    smooth kernel over `layers` cannot jump where the parameter appears."""
    out, seen = [], set()
    for k, p in enumerate(conditional):
        needed = frozenset(map(str, _needed(space, p)))
        on_numbers = any(not isinstance(space[c.name], CategoricalParam)
                         for c in _needed(space, p))
        if on_numbers and needed not in seen:
            seen.add(needed)
            out.append(k)
    return out


def _needed(space: Space, p: Param) -> list[Clause]:
    """The clauses that must hold for `p` to exist, its parents' included."""
    out: list[Clause] = []
    for c in (p.when.clauses if p.when else ()):
        out += [c, *_needed(space, space[c.name])]
    return out


def _numbers(p: FloatParam | IntParam, u: np.ndarray) -> np.ndarray:
    """`p.from_unit` over an array for floats and integers."""
    u = np.clip(u, 0.0, 1.0)
    if isinstance(p, FloatParam):
        lo, hi = (math.log(p.low), math.log(p.high)) if p.log else (p.low, p.high)
        x = lo + u * (hi - lo)
        return np.clip(np.exp(x) if p.log else x, p.low, p.high)
    lo, hi = p._bounds()
    x = lo + u * (hi - lo)
    return np.clip(np.round(np.exp(x) if p.log else x), p.low, p.high)


def _compare(clause: Clause, v: np.ndarray) -> np.ndarray:
    """The clause over numeric values (a non-numeric literal never equals a number)."""
    lits = clause.value if clause.op == "in" else (clause.value,)
    nums = [x for x in lits if isinstance(x, (int, float)) and not isinstance(x, bool)]
    if clause.op in ("in", "=="):
        return np.isin(v, nums) if nums else np.zeros(len(v), dtype=bool)
    if clause.op == "!=":
        return v != nums[0] if nums else np.ones(len(v), dtype=bool)
    if not nums:
        return np.zeros(len(v), dtype=bool)
    op = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
    return op[clause.op](v, nums[0])


class OnCube:
    """A GP over model inputs, seen as a function of unit-cube points.

    Has the two methods the acquisition uses (`posterior`, `posterior_grad`), with
    gradients by the chain rule through `Embedding.embed`.
    """

    def __init__(self, gp: Any, embedding: Embedding) -> None:
        self.gp = gp
        self.embedding = embedding

    def posterior(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.gp.posterior(self.embedding.embed(u))

    def posterior_grad(self, u: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        e = self.embedding
        active = e.active(u) if e.cond else None
        mean, var, dmean, dvar = self.gp.posterior_grad(e.embed(u, active))
        d = len(e.dims)
        keep = np.ones((len(u), d))
        if e.cond:
            keep[:, e.cond] = active
        return mean, var, dmean[:, :d] * keep, dvar[:, :d] * keep


def on_cube(gp: Any, embedding: Embedding) -> Any:
    """The GP as the acquisition optimiser sees it (itself for a plain space)."""
    return OnCube(gp, embedding) if embedding.cond else gp
