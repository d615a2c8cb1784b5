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

from collections.abc import Mapping
from typing import Any

import numpy as np

from tuitune.core.space import INACTIVE_UNIT, FixedParam, Space


class Embedding:
    """Unit-cube points (n, d) to model inputs (n, d + k), k conditional dimensions."""

    def __init__(self, space: Space) -> None:
        self.space = space
        self.dims = space.dims
        self.cond = [j for j, p in enumerate(self.dims) if p.when is not None]

    @property
    def width(self) -> int:
        return len(self.dims) + len(self.cond)

    def model_is_cat(self, is_cat: np.ndarray) -> np.ndarray:
        """The categorical mask of the model's inputs: the indicators are categorical."""
        return np.concatenate([is_cat, np.ones(len(self.cond), dtype=bool)])

    def active(self, u: np.ndarray) -> np.ndarray:
        """(n, k) booleans: which conditional dimensions each cube point has."""
        n = len(u)
        if not self.cond:
            return np.ones((n, 0), dtype=bool)
        column = {p.name: j for j, p in enumerate(self.dims)}
        values: dict[str, list[Any]] = {}
        alive: dict[str, np.ndarray] = {}
        for p in self.space.ordered:  # parents before children
            if isinstance(p, FixedParam):
                values[p.name] = [p.value] * n
            else:
                values[p.name] = [p.from_unit(float(x)) for x in u[:, column[p.name]]]
            ok = np.ones(n, dtype=bool)
            for c in (p.when.clauses if p.when else ()):
                ok &= alive[c.name] & np.array([c.holds(v) for v in values[c.name]], dtype=bool)
            alive[p.name] = ok
        return np.column_stack([alive[self.dims[j].name] for j in self.cond])

    def embed(self, u: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """Model inputs for cube points (activity decided from them unless given)."""
        if not self.cond:
            return u
        active = self.active(u) if active is None else active
        x = np.array(u, dtype=float, copy=True)
        sub = x[:, self.cond]
        sub[~active] = INACTIVE_UNIT
        x[:, self.cond] = sub
        return np.hstack([x, active.astype(float)])

    def embed_params(self, params: Mapping[str, Any], u: np.ndarray) -> np.ndarray:
        """The model input of one configuration, its encoding `u` given: activity is
        read from the configuration itself (absent parameters are inactive)."""
        if not self.cond:
            return u
        active = np.array([[self.dims[j].name in params for j in self.cond]])
        return self.embed(u[None, :], active)[0]


class OnCube:
    """A GP over model inputs, seen as a function of unit-cube points.

    Has the two methods the acquisition uses (`posterior`, `posterior_grad`), with
    gradients by the chain rule through `Embedding.embed`.
    """

    def __init__(self, gp: Any, embedding: Embedding) -> None:
        self.gp = gp
        self.embedding = embedding

    def posterior(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.gp.posterior(self.embedding.embed(u))  # type: ignore[no-any-return]

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
