"""Conditions under which a parameter exists (`when = "layers >= 3"`).

A condition is a conjunction of clauses, each comparing one parameter with a
literal: `layers >= 3`, `optimizer == "sgd"`, `layers >= 2 and optimizer != "sgd"`,
or the table form `{ optimizer = "sgd" }` (a list value means "one of":
`{ optimizer = ["adam", "rmsprop"] }`). The text is parsed here by a small
tokenizer, never evaluated as Python.

Because every clause names one parameter and clauses are only joined by `and`,
a condition (with the conditions of the parameters it names, recursively) can
hold iff, for each parameter named, some value of its domain satisfies all the
clauses on it: `satisfiable` checks exactly that.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

OPS = ("==", "!=", "<=", ">=", "<", ">", "in")
ORDERING = frozenset({"<", "<=", ">", ">="})

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<num>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?))
    | (?P<str>"[^"\\]*"|'[^'\\]*')
    | (?P<op>==|!=|<=|>=|<|>|=)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""", re.VERBOSE)


class ConditionError(ValueError):
    """A condition cannot be parsed or can never hold; the message is one line."""


@dataclass(frozen=True)
class Clause:
    """`name op value`; for `in`, value is a tuple of choices."""

    name: str
    op: str
    value: Any

    def holds(self, v: Any) -> bool:
        if self.op == "in":
            return any(_equal(v, c) for c in self.value)
        if self.op == "==":
            return _equal(v, self.value)
        if self.op == "!=":
            return not _equal(v, self.value)
        if not _is_number(v):
            return False
        if self.op == "<":
            return v < self.value
        if self.op == "<=":
            return v <= self.value
        if self.op == ">":
            return v > self.value
        return v >= self.value

    def __str__(self) -> str:
        if self.op == "in":
            return f"{self.name} in ({', '.join(_lit(c) for c in self.value)})"
        return f"{self.name} {self.op} {_lit(self.value)}"


@dataclass(frozen=True)
class Condition:
    """A conjunction of clauses."""

    clauses: tuple[Clause, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.name for c in self.clauses))

    def holds(self, values: Mapping[str, Any]) -> bool:
        """True when every clause holds; a clause on an absent parameter fails."""
        return all(c.name in values and c.holds(values[c.name]) for c in self.clauses)

    def __str__(self) -> str:
        return " and ".join(str(c) for c in self.clauses)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _equal(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


def _lit(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v + '"'
    return repr(v)


def parse_condition(raw: Any) -> Condition:
    """A condition from its spec form: a string or a table of name = value(s)."""
    if isinstance(raw, str):
        return Condition(tuple(_parse_text(raw)))
    if isinstance(raw, dict):
        if not raw:
            raise ConditionError("an empty table: name the parameter and the value it needs")
        clauses = []
        for name, value in raw.items():
            if isinstance(value, list):
                if not value or not all(_scalar(v) for v in value):
                    raise ConditionError(f"{name}: expected a value or a non-empty list of "
                                         "values")
                clauses.append(Clause(name, "in", tuple(value)))
            elif _scalar(value):
                clauses.append(Clause(name, "==", value))
            else:
                raise ConditionError(f"{name}: expected a value or a list of values")
        return Condition(tuple(clauses))
    raise ConditionError('expected a string like "layers >= 3" or a table like '
                         '{ optimizer = "sgd" }')


def _scalar(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool)) and not (
        isinstance(v, float) and not math.isfinite(v))


def _parse_text(text: str) -> list[Clause]:
    tokens = _tokenize(text)
    clauses: list[Clause] = []
    i = 0
    while True:
        if len(tokens) - i < 3:
            raise ConditionError(f"expected NAME OP VALUE (e.g. layers >= 3), got {text!r}")
        (k1, name), (k2, op), (k3, lit) = tokens[i:i + 3]
        if k1 != "name" or name in ("and", "true", "false"):
            raise ConditionError(f"expected a parameter name, got {name!r} in {text!r}")
        if k2 != "op":
            raise ConditionError(f"expected a comparison (== != < <= > >=) after {name}, "
                                 f"got {op!r}")
        clauses.append(Clause(name, "==" if op == "=" else op, _literal(k3, lit, text)))
        i += 3
        if i == len(tokens):
            return clauses
        if tokens[i] != ("name", "and"):
            raise ConditionError(f"expected 'and' between comparisons, got {tokens[i][1]!r} "
                                 f"in {text!r}")
        i += 1


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ConditionError(f"unexpected {text[pos:].strip()[:20]!r} in {text!r}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


def _literal(kind: str, text: str, whole: str) -> Any:
    if kind == "num":
        value = float(text) if any(c in text for c in ".eE") else int(text)
        if not math.isfinite(value):
            raise ConditionError(f"expected a finite number, got {text!r}")
        return value
    if kind == "str":
        return text[1:-1]
    if kind == "name" and text in ("true", "false"):
        return text == "true"
    raise ConditionError(f"expected a number, a quoted string, true or false after the "
                         f"comparison, got {text!r} in {whole!r}")


def topological_order(conditions: Mapping[str, Condition | None],
                      names: Iterable[str]) -> list[str]:
    """Names ordered so every parameter comes after those its condition names.

    Raises ConditionError naming the parameters of a cycle.
    """
    names = list(names)
    order: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(n: str, path: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            cycle = path[path.index(n):] + [n]
            raise ConditionError("conditions form a cycle: " + " -> ".join(cycle))
        state[n] = 1
        cond = conditions.get(n)
        for parent in (cond.names if cond else ()):
            if parent in conditions:
                visit(parent, path + [n])
        state[n] = 2
        order.append(n)

    for n in names:
        visit(n, [])
    return order


def satisfiable(clauses: Iterable[Clause], domain: Any) -> bool:
    """Can one value of `domain` satisfy every clause?

    `domain` is a list of values (a discrete parameter), or a tuple
    (low, high, integer) for a range too wide to list.
    """
    clauses = list(clauses)
    if isinstance(domain, list):
        return any(all(c.holds(v) for c in clauses) for v in domain)
    low, high, integer = domain
    candidates = [c.value for c in clauses if c.op == "=="]
    candidates += [v for c in clauses if c.op == "in" for v in c.value]
    if any(c.op in ("==", "in") for c in clauses):
        return any(_is_number(v) and low <= v <= high and (not integer or v == int(v))
                   and all(c.holds(v) for c in clauses) for v in candidates)
    lo, lo_closed, hi, hi_closed = float(low), True, float(high), True
    for c in clauses:
        if c.op in (">", ">="):
            if not _is_number(c.value):
                return False
            if c.value > lo or (c.value == lo and c.op == ">"):
                lo, lo_closed = float(c.value), c.op == ">="
        elif c.op in ("<", "<="):
            if not _is_number(c.value):
                return False
            if c.value < hi or (c.value == hi and c.op == "<"):
                hi, hi_closed = float(c.value), c.op == "<="
    excluded = {c.value for c in clauses if c.op == "!=" and _is_number(c.value)}
    if integer:
        first = math.ceil(lo) if lo_closed else math.floor(lo) + 1
        last = math.floor(hi) if hi_closed else math.ceil(hi) - 1
        count = last - first + 1
        return count > sum(1 for v in excluded if first <= v <= last and v == int(v))
    if lo < hi:
        return True  # an interval: finitely many exclusions cannot empty it
    return lo == hi and lo_closed and hi_closed and lo not in excluded
