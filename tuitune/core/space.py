"""Search-space parameter types.

Each parameter owns its mapping to and from the unit interval, so every search
algorithm shares one representation (log scales, integers, powers of two,
categoricals and the momentum scale 1 - 10^u), and its own validation of values
a user types.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tuitune.core.roles import ROLES, role_from_name
from tuitune.core.conditions import Condition, ConditionError, topological_order

Value = float | int | str | bool


class SpaceError(ValueError):
    """A parameter value or definition is invalid; the message is one line."""


@dataclass(frozen=True)
class Param:
    """Base class: one named parameter.

    Attributes:
        name: Parameter name, as used in `{name}` placeholders.
        mutable: Whether it may be tweaked while a trial runs.
        default: Value used to prefill forms; the middle of the range if unset.
        role: What the parameter is for (one of `tuitune.core.roles.ROLES`); read from
            the name by `role_from_name` when not given.
        when: The condition under which the parameter exists (None: always); see
            `tuitune.core.conditions`.
    """

    name: str
    mutable: bool = False
    default: Any = None
    role: str = ""
    when: Condition | None = None

    kind = "param"
    #: True when the parameter takes a finite, ordered set of values.
    discrete = False

    def __post_init__(self) -> None:
        if not self.role:
            object.__setattr__(self, "role", role_from_name(self.name))
        elif self.role not in ROLES:
            raise SpaceError(f"{self.name}: unknown role {self.role!r}; "
                             f"expected one of {', '.join(ROLES)}")

    def to_unit(self, value: Any) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def from_unit(self, u: float) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def validate(self, value: Any) -> Any:  # pragma: no cover - abstract
        """Return the value coerced to this type, or raise SpaceError."""
        raise NotImplementedError

    def parse(self, text: str) -> Any:
        """Parse a value typed on the command line or in a form."""
        return self.validate(parse_scalar(text))

    def sample(self, rng: np.random.Generator) -> Any:
        return self.from_unit(float(rng.random()))

    def grid(self, n: int) -> list[Any]:
        """At most `n` evenly spread values (all of them if discrete and fewer)."""
        if n <= 1:
            return [self.from_unit(0.5)]
        values = [self.from_unit(i / (n - 1)) for i in range(n)]
        return _unique(values)

    def initial(self) -> Any:
        return self.default if self.default is not None else self.from_unit(0.5)

    def describe(self) -> str:
        return self.kind


def _unique(values: Iterable[Any]) -> list[Any]:
    seen: list[Any] = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


def parse_scalar(text: str) -> Any:
    """Typed text as a bool, int, float, or else the string (CLI and form options)."""
    text = text.strip()
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_options(items: Iterable[str], what: str = "options") -> dict[str, Any]:
    """`NAME=VALUE` texts (a strategy's or a rule's options, from the CLI or a form) as
    {name: typed value}; blank items are skipped. ValueError (one line) for a malformed
    item, naming `what` it was for."""
    out: dict[str, Any] = {}
    for item in items:
        if not item.strip():
            continue
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"expected NAME=VALUE for {what}, got {item.strip()!r}")
        out[name.strip()] = parse_scalar(text)
    return out


def _as_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpaceError(f"{name}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise SpaceError(f"{name}: expected a finite number, got {value!r}")
    return float(value)


def _check_range(name: str, v: float, low: float, high: float) -> None:
    # A small relative tolerance keeps values that went through the unit cube.
    tol = 1e-9 * max(abs(low), abs(high), 1.0)
    if v < low - tol or v > high + tol:
        raise SpaceError(f"{name}: {v:g} is outside [{low:g}, {high:g}]")


def _number_in_range(name: str, value: Any, low: float, high: float) -> float:
    """A finite number within [low, high], pulled onto the bounds within the tolerance."""
    v = _as_number(name, value)
    _check_range(name, v, low, high)
    return min(max(v, low), high)


@dataclass(frozen=True)
class FloatParam(Param):
    low: float = 0.0
    high: float = 1.0
    log: bool = False

    kind = "float"

    def _t(self, v: float) -> float:
        return math.log(v) if self.log else v

    def to_unit(self, value: Any) -> float:
        lo, hi = self._t(self.low), self._t(self.high)
        return (self._t(float(value)) - lo) / (hi - lo)

    def from_unit(self, u: float) -> float:
        u = min(max(u, 0.0), 1.0)
        lo, hi = self._t(self.low), self._t(self.high)
        x = lo + u * (hi - lo)
        v = math.exp(x) if self.log else x
        return min(max(v, self.low), self.high)

    def validate(self, value: Any) -> float:
        return _number_in_range(self.name, value, self.low, self.high)

    def describe(self) -> str:
        return f"float [{self.low:g}, {self.high:g}]" + (" log" if self.log else "")


@dataclass(frozen=True)
class IntParam(Param):
    """An integer; the unit interval is widened by half a step at each end so
    every integer owns an equal share of it (as Optuna does)."""

    low: int = 0
    high: int = 1
    log: bool = False

    kind = "int"
    discrete = True

    def _bounds(self) -> tuple[float, float]:
        lo, hi = self.low - 0.5, self.high + 0.5
        if self.log:
            return math.log(max(lo, 0.5)), math.log(hi)
        return lo, hi

    def to_unit(self, value: Any) -> float:
        lo, hi = self._bounds()
        x = math.log(float(value)) if self.log else float(value)
        return (x - lo) / (hi - lo)

    def from_unit(self, u: float) -> int:
        u = min(max(u, 0.0), 1.0)
        lo, hi = self._bounds()
        x = lo + u * (hi - lo)
        v = math.exp(x) if self.log else x
        return int(min(max(round(v), self.low), self.high))

    def validate(self, value: Any) -> int:
        v = _as_number(self.name, value)
        if v != int(v):
            raise SpaceError(f"{self.name}: expected an integer, got {value!r}")
        _check_range(self.name, v, self.low, self.high)
        return int(v)

    def values(self) -> list[int]:
        return list(range(self.low, self.high + 1))

    def grid(self, n: int) -> list[int]:
        if self.high - self.low + 1 <= n:
            return self.values()
        return super().grid(n)

    def describe(self) -> str:
        return f"int [{self.low}, {self.high}]" + (" log" if self.log else "")


@dataclass(frozen=True)
class Pow2Param(Param):
    """A power of two between `low` and `high` (batch sizes); searched on the exponent."""

    low: int = 1
    high: int = 1024

    kind = "pow2"
    discrete = True

    def _exps(self) -> tuple[int, int]:
        return int(math.log2(self.low)), int(math.log2(self.high))

    def to_unit(self, value: Any) -> float:
        e_lo, e_hi = self._exps()
        return (math.log2(float(value)) - (e_lo - 0.5)) / (e_hi - e_lo + 1)

    def from_unit(self, u: float) -> int:
        u = min(max(u, 0.0), 1.0)
        e_lo, e_hi = self._exps()
        e = min(max(math.floor(e_lo - 0.5 + u * (e_hi - e_lo + 1) + 0.5), e_lo), e_hi)
        return 2**e

    def validate(self, value: Any) -> int:
        v = _as_number(self.name, value)
        if v != int(v) or v < 1 or (int(v) & (int(v) - 1)) != 0:
            raise SpaceError(f"{self.name}: expected a power of two, got {value!r}")
        _check_range(self.name, v, self.low, self.high)
        return int(v)

    def values(self) -> list[int]:
        e_lo, e_hi = self._exps()
        return [2**e for e in range(e_lo, e_hi + 1)]

    def grid(self, n: int) -> list[int]:
        vals = self.values()
        return vals if len(vals) <= n else super().grid(n)

    def describe(self) -> str:
        return f"power of two [{self.low}, {self.high}]"


@dataclass(frozen=True)
class MomentumParam(Param):
    """A value near 1 searched as 1 - 10^u (e.g. beta in [0.9, 0.999]), so 0.99
    sits half-way between 0.9 and 0.999."""

    low: float = 0.9
    high: float = 0.999

    kind = "momentum"

    def _u_bounds(self) -> tuple[float, float]:
        # u runs from log10(1 - low) (e.g. -1) down to log10(1 - high) (e.g. -3).
        return math.log10(1 - self.low), math.log10(1 - self.high)

    def to_unit(self, value: Any) -> float:
        a, b = self._u_bounds()
        return (math.log10(1 - float(value)) - a) / (b - a)

    def from_unit(self, u: float) -> float:
        u = min(max(u, 0.0), 1.0)
        a, b = self._u_bounds()
        v = 1 - 10 ** (a + u * (b - a))
        return min(max(v, self.low), self.high)

    def validate(self, value: Any) -> float:
        return _number_in_range(self.name, value, self.low, self.high)

    def describe(self) -> str:
        return f"momentum [{self.low:g}, {self.high:g}] (1 - 10^u)"


@dataclass(frozen=True)
class CategoricalParam(Param):
    """One of a list of choices; encoded as equal-width cells of the unit interval.

    The encoding is for storage and random sampling only: it is not ordinal, and
    model-based search must treat these dimensions as unordered.
    """

    choices: tuple[Any, ...] = ()

    kind = "categorical"
    discrete = True

    def to_unit(self, value: Any) -> float:
        return (self.choices.index(value) + 0.5) / len(self.choices)

    def from_unit(self, u: float) -> Any:
        n = len(self.choices)
        return self.choices[min(max(int(u * n), 0), n - 1)]

    def validate(self, value: Any) -> Any:
        for c in self.choices:
            if value == c and type(value) is type(c):
                return c
        for c in self.choices:  # "32" typed for a choice 32, and so on
            if str(value) == str(c):
                return c
        raise SpaceError(f"{self.name}: {value!r} is not one of {list(self.choices)}")

    def parse(self, text: str) -> Any:
        return self.validate(text.strip())

    def values(self) -> list[Any]:
        return list(self.choices)

    def grid(self, n: int) -> list[Any]:
        return list(self.choices)

    def initial(self) -> Any:
        return self.default if self.default is not None else self.choices[0]

    def describe(self) -> str:
        return "one of " + ", ".join(str(c) for c in self.choices)


@dataclass(frozen=True)
class FixedParam(Param):
    """A constant passed to every trial; not a search dimension."""

    value: Any = None

    kind = "fixed"
    discrete = True

    def to_unit(self, value: Any) -> float:
        return 0.5

    def from_unit(self, u: float) -> Any:
        return self.value

    def validate(self, value: Any) -> Any:
        if value != self.value and str(value) != str(self.value):
            raise SpaceError(f"{self.name}: fixed at {self.value!r}, got {value!r}")
        return self.value

    def grid(self, n: int) -> list[Any]:
        return [self.value]

    def initial(self) -> Any:
        return self.value

    def describe(self) -> str:
        return f"fixed {self.value!r}"


#: Stands for an inactive parameter in `Space.key` (a condition says it is absent).
INACTIVE = "\0inactive"
#: Where an inactive dimension sits in `Space.encode` (models add an indicator).
INACTIVE_UNIT = 0.5


@dataclass(frozen=True)
class Space:
    """An ordered set of parameters with a shared unit-cube encoding.

    `encode`/`decode` cover the searchable dimensions only (fixed parameters are
    not dimensions); `decode` adds the fixed values back.

    A parameter with a condition (`Param.when`) exists only where it holds: a
    configuration leaves inactive parameters out (`active`), and everything that
    builds one (`decode`, `sample`, `defaults`, `complete`) drops them.
    """

    params: tuple[Param, ...]
    _index: dict[str, Param] = field(init=False, repr=False, compare=False)
    _order: tuple[Param, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {p.name: p for p in self.params})
        for p in self.params:
            for name in (p.when.names if p.when else ()):
                if name not in self._index:
                    raise SpaceError(f"{p.name}: the condition names an unknown parameter "
                                     f"{name!r}; the space has {', '.join(self.names)}")
        try:
            order = topological_order({p.name: p.when for p in self.params}, self.names)
        except ConditionError as exc:
            raise SpaceError(str(exc)) from None
        object.__setattr__(self, "_order", tuple(self._index[n] for n in order))

    def __getitem__(self, name: str) -> Param:
        return self._index[name]

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __iter__(self):
        return iter(self.params)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def dims(self) -> tuple[Param, ...]:
        """The searchable parameters, in encoding order."""
        return tuple(p for p in self.params if not isinstance(p, FixedParam))

    @property
    def categorical_dims(self) -> list[int]:
        return [i for i, p in enumerate(self.dims) if isinstance(p, CategoricalParam)]

    @property
    def ordered(self) -> tuple[Param, ...]:
        """The parameters with each after those its condition names."""
        return self._order

    @property
    def conditional(self) -> bool:
        """Whether some parameter exists only under a condition."""
        return any(p.when is not None for p in self.params)

    def active(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The values of the parameters that exist, in space order: a parameter whose
        condition fails, or names an inactive or absent parameter, is left out."""
        if not self.conditional:
            return {p.name: values[p.name] for p in self.params if p.name in values}
        kept: dict[str, Any] = {}
        for p in self._order:
            if p.name in values and (p.when is None or p.when.holds(kept)):
                kept[p.name] = values[p.name]
        return {n: kept[n] for n in self.names if n in kept}

    def complete(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A full configuration: the given values, the defaults of active parameters
        not given (fixed ones at their value), inactive parameters left out."""
        out: dict[str, Any] = {}
        for p in self._order:
            if p.when is not None and not p.when.holds(out):
                continue
            if isinstance(p, FixedParam):
                out[p.name] = p.value
            else:
                out[p.name] = values[p.name] if p.name in values else p.initial()
        return {n: out[n] for n in self.names if n in out}

    def encode(self, values: Mapping[str, Any]) -> np.ndarray:
        """Unit-cube coordinates; an inactive dimension sits at INACTIVE_UNIT."""
        if not self.conditional:
            return np.array([p.to_unit(values[p.name]) for p in self.dims], dtype=float)
        live = self.active(values)
        return np.array([p.to_unit(live[p.name]) if p.name in live else INACTIVE_UNIT
                         for p in self.dims], dtype=float)

    def decode(self, u: Sequence[float] | np.ndarray) -> dict[str, Any]:
        out: dict[str, Any] = {}
        it = iter(u)
        for p in self.params:
            out[p.name] = p.value if isinstance(p, FixedParam) else p.from_unit(float(next(it)))
        return self.active(out) if self.conditional else out

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        # Every parameter is drawn, active or not, so one draw consumes the same
        # randomness whatever the conditions say.
        drawn = {p.name: p.sample(rng) for p in self.params}
        return self.active(drawn) if self.conditional else drawn

    def defaults(self) -> dict[str, Any]:
        return self.complete({})

    def validate(self, values: Mapping[str, Any], partial: bool = False) -> dict[str, Any]:
        """Check and coerce values; unknown names and (unless partial) missing ones
        fail. Unless partial, inactive parameters are left out of the result."""
        unknown = [k for k in values if k not in self._index]
        if unknown:
            raise SpaceError(
                f"unknown parameter {unknown[0]!r}; the space has {', '.join(self.names)}"
            )
        out = {k: self._index[k].validate(v) for k, v in values.items()}
        if not partial:
            for p in self._order:
                if p.name in out or (p.when is not None and not p.when.holds(out)):
                    continue
                if isinstance(p, FixedParam):
                    out[p.name] = p.value
                else:
                    raise SpaceError(f"missing a value for parameter {p.name!r}")
            out = self.active(out)
        return out

    def inactive_given(self, values: Mapping[str, Any]) -> list[str]:
        """Names given in `values` that their conditions leave out."""
        live = self.active(values)
        return [n for n in values if n in self._index and n not in live]

    def parse_assignments(self, items: Iterable[str]) -> dict[str, Any]:
        """Parse `name=value` strings (CLI arguments) into validated values."""
        out: dict[str, Any] = {}
        for item in items:
            name, sep, text = item.partition("=")
            name = name.strip()
            if not sep or not name:
                raise SpaceError(f"expected name=value, got {item!r}")
            if name not in self._index:
                raise SpaceError(
                    f"unknown parameter {name!r}; the space has {', '.join(self.names)}"
                )
            out[name] = self._index[name].parse(text)
        return out

    def key(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """A hashable identity for a configuration (to detect duplicates); in a
        conditional space inactive parameters count as INACTIVE, whatever value
        they were given."""
        if self.conditional:
            live = self.active(values)
            return tuple(_key_value(live[p.name]) if p.name in live else INACTIVE
                         for p in self.params)
        return tuple(_key_value(values[p.name]) for p in self.params if p.name in values)


def _key_value(v: Any) -> Any:
    return round(v, 12) if isinstance(v, float) else v
