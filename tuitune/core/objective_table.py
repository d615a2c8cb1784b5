"""The spec's [objective] table: one or several objectives, secondary metrics
and constraints (docs/spec.md#objective). Every problem is one line naming the key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Protocol

from tuitune.core.history import CONSTRAINT_OPS, Constraint, Objective
from tuitune.core.measures import BUILTIN_MEASURES

_NAME = r"[A-Za-z_][\w./]*"
_CONSTRAINT = re.compile(rf"\s*({_NAME})\s*(<=|>=)\s*(\S+)\s*")


class Validator(Protocol):
    def fail(self, key: str, message: str) -> Exception: ...

    def keys(self, table: Mapping[str, Any], where: str, allowed: set[str]) -> None: ...

    def typed(self, val: Any, key: str, kind: type) -> Any: ...

    def choice(self, val: Any, key: str, choices: tuple[str, ...]) -> str: ...


def objective_table(v: Validator, t: Mapping[str, Any]
                    ) -> tuple[tuple[Objective, ...], tuple[str, ...], tuple[Constraint, ...]]:
    """(objectives, secondary metrics, constraints) from the [objective] table."""
    v.keys(t, "objective", {"metric", "metrics", "mode", "secondary", "constraints"})
    if "metric" in t and "metrics" in t:
        raise v.fail("objective.metrics", "give metric (one objective) or metrics (several), "
                                          "not both")
    if "metric" in t:
        names = [v.typed(t["metric"], "objective.metric", str)]
    elif "metrics" in t:
        names = _names(v, t["metrics"], "objective.metrics")
        if not names:
            raise v.fail("objective.metrics", "expected at least one metric name")
    else:
        raise v.fail("objective.metric", "missing (required): the metric name to optimise "
                                         "(or metrics = [...] for several objectives)")
    modes = _modes(v, t.get("mode", "min"), len(names))
    secondary = t.get("secondary", [])
    if not isinstance(secondary, list) or not all(isinstance(s, str) for s in secondary):
        raise v.fail("objective.secondary", "expected a list of metric names")
    objectives = tuple(Objective(n, m) for n, m in zip(names, modes, strict=True))
    known = {*names, *secondary, *BUILTIN_MEASURES}
    constraints = _constraints(v, t.get("constraints", []), known)
    return objectives, tuple(secondary), constraints


def _names(v: Validator, value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise v.fail(key, f"expected a list of metric names, got {value!r}")
    for i, name in enumerate(value):
        if not re.fullmatch(_NAME, name):
            raise v.fail(f"{key}[{i}]", f"{name!r} is not a metric name (a letter or _, then "
                                        "letters, digits, _ . /)")
        if name in value[:i]:
            raise v.fail(f"{key}[{i}]", f"{name!r} is listed twice")
    return list(value)


def _modes(v: Validator, value: Any, n: int) -> list[str]:
    if isinstance(value, str):
        return [v.choice(value, "objective.mode", ("min", "max"))] * n
    if not isinstance(value, list) or len(value) != n:
        raise v.fail("objective.mode", f"expected \"min\", \"max\" or a list of {n} of them "
                                       f"(one per metric), got {value!r}")
    return [v.choice(m, f"objective.mode[{i}]", ("min", "max")) for i, m in enumerate(value)]


def _constraints(v: Validator, value: Any, known: set[str]) -> tuple[Constraint, ...]:
    key = "objective.constraints"
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise v.fail(key, f'expected a list like ["gpu_mem_mb <= 8000"], got {value!r}')
    out = []
    for i, text in enumerate(value):
        where = f"{key}[{i}]"
        m = _CONSTRAINT.fullmatch(text)
        if m is None:
            raise v.fail(where, f"expected METRIC <= NUMBER or METRIC >= NUMBER, got {text!r}")
        name, op, bound_text = m.groups()
        try:
            bound = float(bound_text)
        except ValueError:
            raise v.fail(where, f"the bound {bound_text!r} is not a number") from None
        if not math.isfinite(bound):
            raise v.fail(where, f"the bound must be a finite number, got {bound_text!r}")
        if name not in known:
            builtins = ", ".join(sorted(BUILTIN_MEASURES))
            raise v.fail(where, f"{name!r} names nothing the trials report: not a built-in "
                                f"measure ({builtins}), nor in [objective] metric(s) or "
                                "secondary (list a metric the script reports there)")
        assert op in CONSTRAINT_OPS
        out.append(Constraint(name, op, bound))
    return tuple(out)
