"""The searcher interface shared by every strategy (ask/tell with pending trials).

A searcher only returns decisions (`Suggest`, `Wait` or `Exhausted`); the engine
starts the trials and records them. Observations are kept as losses (smaller is better) so the
algorithms never look at the objective's direction again.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from tuitune.core.decisions import Exhausted, Suggest, Wait
from tuitune.core.history import DIVERGED, FAILED, History
from tuitune.core.options import Check
from tuitune.core.space import CategoricalParam, FixedParam, IntParam, Param, Space, SpaceError

#: Above this many configurations a discrete space is searched by rejection
#: sampling only, never enumerated.
ENUMERATION_LIMIT = 100_000


@dataclass(frozen=True)
class Observation:
    """One result as a searcher holds it.

    Attributes:
        params: A full configuration (every parameter of the space, fixed ones too).
        loss: The value mapped so that smaller is better; NaN for a failed or
            diverged trial (each algorithm imputes it as the worst value).
        in_space: Whether every value is valid for the space (hand trials may not be).
        losses: With several objectives, every objective's loss (`loss` is the
            first); empty with one objective.
        violations: Each constraint's violation (the constrained value minus its
            bound, signed so that <= 0 is feasible); NaN where it is unknown.
    """

    params: Mapping[str, Any]
    loss: float
    in_space: bool = True
    losses: tuple[float, ...] = ()
    violations: tuple[float, ...] = ()

    @property
    def feasible(self) -> bool:
        """No known constraint is violated (an unknown value counts as met)."""
        return not any(v > 0.0 for v in self.violations)

    @property
    def all_losses(self) -> tuple[float, ...]:
        return self.losses or (self.loss,)


class Searcher(ABC):
    """Base class: suggests configurations, learns from every reported result.

    Subclasses implement `_ask`. The base keeps observations and pending trials,
    rejects duplicates and detects an exhausted discrete space.

    Args:
        space: The search space.
        seed: Seed for every random choice; `ask` is deterministic for a given seed
            and sequence of `tell`/`set_pending` calls.
        mode: "min" or "max", the objective's direction.
        **options: Strategy options (see `OPTIONS` in `tuitune.search`).
    """

    name: ClassVar[str] = "base"
    #: Whether the strategy searches with several objectives (else it refuses them).
    multi_objective: ClassVar[bool] = False
    #: option name -> its check (`tuitune.core.options`): the coerced value, or a
    #: one-line ValueError naming the strategy and the key.
    option_specs: ClassVar[dict[str, Check]] = {}

    def __init__(self, space: Space, seed: int = 0, mode: str | Sequence[str] = "min",
                 **options: Any) -> None:
        modes = (mode,) if isinstance(mode, str) else tuple(mode)
        for m in modes:
            if m not in ("min", "max"):
                raise ValueError(f"mode must be 'min' or 'max', got {m!r}")
        if not modes:
            raise ValueError("at least one objective is needed")
        if len(modes) > 1 and not self.multi_objective:
            raise ValueError(
                f"search strategy {self.name!r} optimises one objective, and [objective] "
                f"metrics lists {len(modes)}: use 'bayes' or 'random'"
            )
        self.space = space
        self.seed = int(seed)
        self.modes = modes
        self.mode = modes[0]  # the first objective's (what single-objective code reads)
        self.options = self._check_options(options)
        self._rng = np.random.default_rng(self.seed)
        self._observations: list[Observation] = []
        self._observed_keys: set[tuple[Any, ...]] = set()
        self._pending: list[dict[str, Any]] = []
        self._distinct: int | None = None  # configurations of a conditional space

    # -- options -------------------------------------------------------------

    @classmethod
    def _check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in options.items():
            if key not in cls.option_specs:
                valid = ", ".join(sorted(cls.option_specs)) or "none"
                raise ValueError(
                    f"unknown option {key!r} for search strategy {cls.name!r} (valid: {valid})"
                )
            out[key] = cls.option_specs[key](f"search strategy {cls.name!r}", key, value)
        return out

    def option(self, key: str, default: Any) -> Any:
        return self.options.get(key, default)

    # -- the public interface ------------------------------------------------

    def tell(self, params: Mapping[str, Any], value: float | Sequence[float | None] | None,
             constraints: Sequence[float | None] = ()) -> None:
        """Record a result, whoever suggested the configuration.

        Args:
            params: The configuration (missing parameters take their defaults).
            value: The objective in its own direction; non-finite means the trial
                diverged or failed and is imputed as the worst result. With several
                objectives, one value per objective, in the order of `mode`.
            constraints: Each constraint's violation (<= 0 is feasible); None or
                NaN where it is unknown.
        """
        full, in_space = self._complete(params)
        values = list(value) if isinstance(value, Sequence) else [value]
        if len(values) != len(self.modes):
            raise ValueError(f"expected {len(self.modes)} objective values, got {len(values)}")
        losses = tuple(_as_loss(v, m) for v, m in zip(values, self.modes, strict=True))
        violations = tuple(math.nan if c is None else float(c) for c in constraints)
        self._observations.append(Observation(
            full, losses[0], in_space, losses if len(losses) > 1 else (), violations))
        key = self.space.key(full)
        self._observed_keys.add(key)
        # The result arrived, so the configuration no longer waits.
        for i, p in enumerate(self._pending):
            if self.space.key(p) == key:
                del self._pending[i]
                break

    def set_pending(self, params_list: Sequence[Mapping[str, Any]]) -> None:
        """Replace the set of trials that run or wait and have no result yet."""
        self._pending = [self._complete(p)[0] for p in params_list]

    def ask(self) -> Suggest | Wait | Exhausted:
        """Suggest the next configuration, say to wait for a pending result, or say
        there is none.

        The suggestion is added to the pending set. It is never a configuration
        already observed or pending. `Wait` only comes while something is pending
        (otherwise no result could ever end the wait).
        """
        if self._space_exhausted():
            n = self.cardinality()
            return Exhausted(f"all {n} configurations of the space are observed or pending")
        decision = self._ask()
        if isinstance(decision, Suggest):
            self._pending.append(dict(decision.params))
        elif isinstance(decision, Wait) and not self._pending:
            return Exhausted(f"{decision.reason}, but nothing is pending")
        return decision

    def sync(self, history: History) -> None:
        """Reset observations and pending trials from a snapshot of the run.

        Finished trials with a value are observations (hand-run ones included; a
        tweaked trial counts with its effective parameters). Diverged or failed
        trials without a finite value are observations with a NaN value, imputed
        as the worst. Killed, pruned or lost trials without a value are ignored.
        """
        self._observations.clear()
        self._observed_keys.clear()
        self._pending = []
        several = len(self.modes) > 1
        for params, values, violations in history.outcomes():
            self.tell(params, values if several else values[0], violations)
        nans = tuple(math.nan for _ in self.modes)
        for t in history.trials:
            if t.state in (DIVERGED, FAILED) and (t.value is None or not math.isfinite(t.value)):
                self.tell(t.effective_params(), nans if several else math.nan,
                          history.violations_of(t))
        self.set_pending([t.effective_params() for t in history.pending])

    def incumbent(self) -> dict[str, Any] | None:
        """The configuration believed best so far (here: the best observed)."""
        best = self._best_observation()
        return dict(best.params) if best is not None else None

    @property
    def observations(self) -> tuple[Observation, ...]:
        return tuple(self._observations)

    @property
    def pending(self) -> tuple[dict[str, Any], ...]:
        return tuple(dict(p) for p in self._pending)

    # -- for subclasses --------------------------------------------------------

    @abstractmethod
    def _ask(self) -> Suggest | Wait | Exhausted:
        """Return a new configuration (checked with `is_new`), Wait or Exhausted."""

    def suggest(self, values: Mapping[str, Any], reason: str) -> Suggest:
        """Build a Suggest with the fixed parameters filled in (and, in a conditional
        space, only the parameters whose conditions hold)."""
        if self.space.conditional:
            params = self.space.complete(values)
        else:
            params = {p.name: values.get(p.name, _fixed_value(p)) for p in self.space.params}
        return Suggest(params=params, origin=self.name, reason=reason)

    def is_new(self, params: Mapping[str, Any]) -> bool:
        """True if the configuration is neither observed nor pending."""
        key = self.space.key(params)
        return key not in self._observed_keys and key not in self._pending_keys()

    def is_pending(self, params: Mapping[str, Any]) -> bool:
        return self.space.key(params) in self._pending_keys()

    def _pending_keys(self) -> set[tuple[Any, ...]]:
        return {self.space.key(p) for p in self._pending}

    def _best_observation(self) -> Observation | None:
        """The best finite first-objective result among the feasible ones (the least
        violating one when none is feasible)."""
        finite = [o for o in self._observations if math.isfinite(o.loss)]
        return min(finite, key=_feasible_first) if finite else None

    def front(self) -> list[dict[str, Any]]:
        """The observed configurations on the Pareto front of the feasible results
        (with one objective: the best one)."""
        from tuitune.core.pareto import pareto_mask

        rows = [o for o in self._observations if o.feasible]
        if not rows:
            return []
        mask = pareto_mask([o.all_losses for o in rows])
        return [dict(o.params) for o, on in zip(rows, mask, strict=True) if on]

    def cardinality(self) -> int | None:
        """Number of configurations, or None if a dimension is continuous."""
        n = 1
        for p in self.space.dims:
            count = n_values(p)
            if count is None:
                return None
            n *= count
        if self.space.conditional and n <= ENUMERATION_LIMIT:
            # Inactive parameters make configurations of the product coincide.
            if self._distinct is None:
                self._distinct = len(self.enumerate_space())
            return self._distinct
        return n

    def _space_exhausted(self) -> bool:
        n = self.cardinality()
        if n is None:
            return False
        seen = {self.space.key(o.params) for o in self._observations if o.in_space}
        seen |= self._pending_keys()
        return len(seen) >= n

    def random_new(self, rng: np.random.Generator, tries: int = 64) -> dict[str, Any] | None:
        """A random configuration that is neither observed nor pending, or None."""
        for _ in range(tries):
            params = self.space.sample(rng)
            if self.is_new(params):
                return params
        n = self.cardinality()
        if n is None or n > ENUMERATION_LIMIT:
            return None
        unused = [c for c in self.enumerate_space() if self.is_new(c)]
        return unused[int(rng.integers(len(unused)))] if unused else None

    def enumerate_space(self) -> list[dict[str, Any]]:
        """Every configuration of a discrete space, last dimension varying fastest."""
        dims = self.space.dims
        value_lists = [_discrete_values(p) or [] for p in dims]
        out, seen = [], set()
        for combo in itertools.product(*value_lists):
            params = dict(
                self.suggest(dict(zip([p.name for p in dims], combo, strict=True)), "").params
            )
            key = self.space.key(params)
            if key not in seen:  # in a conditional space, combinations coincide
                seen.add(key)
                out.append(params)
        return out

    def _complete(self, params: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """A full configuration from possibly partial or out-of-space values."""
        out: dict[str, Any] = {}
        in_space = True
        for p in self.space.params:
            if isinstance(p, FixedParam):
                out[p.name] = p.value
                continue
            if p.name not in params:
                out[p.name] = p.initial()
                continue
            try:
                out[p.name] = p.validate(params[p.name])
            except SpaceError:
                # A hand trial may have left the declared range: keep its value.
                out[p.name] = params[p.name]
                in_space = False
        if self.space.conditional:
            # What the conditions leave out is not part of the configuration.
            out = self.space.active(out)
            in_space = all(_valid(self.space[n], v) for n, v in out.items())
        return out, in_space

    def encode(self, params: Mapping[str, Any], clip: bool = True) -> np.ndarray | None:
        """Unit-cube encoding clipped to [0, 1] (unless `clip` is False: a value outside
        the space, e.g. from before a space revision, then lies past 0 or 1 on the
        same scale); None if a value cannot be encoded (a choice no longer offered)."""
        try:
            u = self.space.encode(params)
        except (ValueError, TypeError, KeyError):
            return None
        if not np.all(np.isfinite(u)):
            return None
        return np.clip(u, 0.0, 1.0) if clip else u


def _valid(p: Param, value: Any) -> bool:
    try:
        p.validate(value)
    except SpaceError:
        return False
    return True


def _as_loss(value: float | None, mode: str) -> float:
    v = float(value) if value is not None else math.nan
    return (v if mode == "min" else -v) if math.isfinite(v) else math.nan


def _feasible_first(o: Observation) -> tuple[float, float]:
    """Sort key: feasible results first, then by total violation, then by loss."""
    excess = sum(v for v in o.violations if v > 0.0)
    return (excess, o.loss)


def into_space(space: Space, point: Mapping[str, Any]) -> dict[str, Any]:
    """`point` with each value the space does not allow moved to the nearest one it
    does: a range's value clipped to its edge, a categorical's dropped choice to the
    default, a fixed parameter to its value. After a space edit the best trial may lie
    outside the new space; a searcher that builds on it must not suggest its values."""
    out = dict(point)
    for p in space.params:
        if p.name not in out:
            continue
        try:
            p.validate(out[p.name])
        except SpaceError:
            out[p.name] = _nearest(p, out[p.name])
    return out


def _nearest(p: Param, value: Any) -> Any:
    if isinstance(p, (FixedParam, CategoricalParam)):
        return _fixed_value(p)
    try:
        return p.from_unit(min(max(p.to_unit(value), 0.0), 1.0))
    except (ValueError, TypeError):
        return p.initial()


def _fixed_value(p: Param) -> Any:
    return p.value if isinstance(p, FixedParam) else p.initial()


def _discrete_values(p: Param) -> list[Any] | None:
    if isinstance(p, CategoricalParam):
        return list(p.choices)
    if isinstance(p, FixedParam):
        return [p.value]
    values = getattr(p, "values", None)
    return values() if p.discrete and callable(values) else None


def discrete_values(p: Param) -> list[Any] | None:
    """All values of a discrete parameter, or None for a continuous one."""
    return _discrete_values(p)


def n_values(p: Param) -> int | None:
    """How many values a discrete parameter has (without listing a wide integer
    range), or None for a continuous one."""
    if isinstance(p, IntParam):
        return p.high - p.low + 1
    values = _discrete_values(p)
    return None if values is None else len(values)
