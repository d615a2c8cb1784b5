"""A live run's stopping rules, changed by a hand-off (`tuitune handoff --rule`, the TUI's
hand-off form).

The rules in effect are the spec's `[stopping]`, or the list a hand-off wrote to the
run's meta (key `stopping_rules`: a list of [name, options] pairs, in the order the
rules run). A hand-off that names no rules leaves them as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tuitune.core.space import parse_options
from tuitune.core.spec import Spec

META_KEY = "stopping_rules"

#: The rules as the engine builds them: (name, options) pairs, in order.
RuleConfig = list[tuple[str, dict[str, Any]]]


def current_rules(spec: Spec, meta: Mapping[str, Any]) -> RuleConfig:
    """The rules in effect: the run's meta over the spec's `[stopping]`."""
    raw = meta[META_KEY] if META_KEY in meta else spec.stopping
    return [(str(name), dict(options)) for name, options in raw]


def normalise_rules(raw: Any) -> RuleConfig:
    """Check the shape of a `rules` argument: a list of [name, options] pairs with
    distinct names. The registry vets the names and options (ValueError, one line)."""
    if not isinstance(raw, (list, tuple)):
        raise ValueError(f"rules must be a list of [name, options] pairs, got {raw!r}")
    out: RuleConfig = []
    for item in raw:
        if (not isinstance(item, (list, tuple)) or len(item) != 2
                or not isinstance(item[0], str) or not isinstance(item[1], Mapping)):
            raise ValueError(f"expected a [name, options] pair in rules, got {item!r}")
        if any(item[0] == name for name, _ in out):
            raise ValueError(f"stopping rule {item[0]!r} is listed twice")
        out.append((item[0], dict(item[1])))
    return out


def parse_rule_options(items: Iterable[str]) -> dict[str, dict[str, Any]]:
    """`RULE.NAME=VALUE` texts (the CLI's --rule-option, the form's field) as
    {rule: {name: value}}; ValueError (one line) for a malformed item."""
    items = [item for item in items if item.strip()]  # blank items are skipped
    for item in items:  # the whole item in the message, as the user typed it
        rule, dot, name = item.partition("=")[0].partition(".")
        if not dot or not rule.strip() or not name.strip():
            raise ValueError("expected RULE.NAME=VALUE for a rule option, "
                             f"got {item.strip()!r}")
    out: dict[str, dict[str, Any]] = {}
    for key, value in parse_options(items, "a rule option").items():
        rule, _, name = key.partition(".")
        out.setdefault(rule.strip(), {})[name.strip()] = value
    return out


def with_options(names: Sequence[str], options: Mapping[str, Mapping[str, Any]]) -> RuleConfig:
    """The chosen rules with their options; an option for a rule not chosen is an error,
    not silently dropped."""
    stray = sorted(set(options) - set(names))
    if stray:
        raise ValueError(f"option for {stray[0]!r}, which is not among the chosen rules "
                         f"({', '.join(names) or 'none'})")
    return [(name, dict(options.get(name, {}))) for name in names]


def format_rule_options(rules: RuleConfig) -> str:
    """The options of `rules` as the form's field shows them: `asha.reduction_factor=4, ...`."""
    return ", ".join(f"{name}.{key}={value}" for name, options in rules
                     for key, value in options.items())


def describe(rules: RuleConfig) -> str:
    return ", ".join(name for name, _ in rules) or "none"
