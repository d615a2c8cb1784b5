"""Space revisions: a live run's search space, narrowed, widened or fixed while it runs.

Revision 0 is the spec's `[space]` table. Each edit (`tuitune space`, the insight
screen's zoom/widen/fix advice) appends a numbered revision to the run's meta
(`space_revisions`): the whole new table, who made it, when, what changed, and the
revision it was based on, so `--undo` steps back through the chain and nothing is
ever overwritten. A revision's table is checked by the spec loader itself, so a
revision can hold nothing a spec could not. Running trials are never touched; the
searcher is rebuilt on the new space (docs/search.md says how it uses earlier trials).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tuitune.core.numfmt import value as shown
from tuitune.core.space import Space, SpaceError, parse_scalar
from tuitune.core.spec import Spec, SpecError, parse_spec

META_KEY = "space_revisions"
_RANGED = ("float", "int", "pow2", "momentum")


class SpaceEditError(ValueError):
    """An edit that cannot be made; str() is one line for the user."""


def revisions(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The run's revisions after the spec's own (revision 0), oldest first."""
    return list(meta.get(META_KEY) or [])


def raw_space(spec: Spec, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The current revision's `[space]` table."""
    revs = revisions(meta)
    return copy.deepcopy(revs[-1]["space"] if revs else dict(spec.raw["space"]))


def current_revision(meta: Mapping[str, Any]) -> int:
    revs = revisions(meta)
    return int(revs[-1]["n"]) if revs else 0


def space_from_table(spec: Spec, table: Mapping[str, Any]) -> Space:
    """Parse a `[space]` table with the spec loader's rules (one-line errors)."""
    try:
        return parse_spec({**spec.raw, "space": dict(table)}, spec.path).space
    except SpecError as exc:
        raise SpaceEditError(str(exc).split(": ", 1)[-1]) from None


def current_space(spec: Spec, meta: Mapping[str, Any]) -> Space:
    """The search space in effect now (the spec's until the first edit)."""
    return space_from_table(spec, raw_space(spec, meta)) if revisions(meta) else spec.space


def plan_edit(spec: Spec, meta: Mapping[str, Any], args: Mapping[str, Any]) -> dict[str, Any]:
    """Check an edit against the current revision; returns the new revision (unsaved).

    `args`: `ranges` {name: {"low", "high"}}, `log` (True: the given ranges are log
    scaled), `choices` {name: [values]} (the whole list), `add_choices` and
    `drop_choices` {name: [values]}, `fix` {name: value}, `free` [names], or `undo`.
    """
    revs = revisions(meta)
    if args.get("undo"):
        return _plan_undo(spec, revs)
    table = raw_space(spec, meta)
    changes: list[str] = []
    for name in args.get("free") or ():  # first: `--free lr lr=a..b` frees, then sets
        changes.append(_free(spec, revs, table, name))
    for name, bounds in (args.get("ranges") or {}).items():
        changes.append(_set_range(table, name, bounds, args.get("log")))
    for op in ("choices", "add_choices", "drop_choices"):
        for name, values in (args.get(op) or {}).items():
            changes.append(_set_choices(table, name, values, op))
    current = current_space(spec, meta)
    for name, value in (args.get("fix") or {}).items():
        changes.append(_set_fixed(table, current, name, value))
    if not changes:
        raise SpaceEditError("nothing to change: give name=LOW..HIGH, --fix name=value, "
                             "--free name, --choices name=a,b (or name+=c, name-=c) or --undo")
    space_from_table(spec, table)
    n = current_revision(meta) + 1
    return {"n": n, "parent": current_revision(meta), "space": table,
            "change": "; ".join(changes)}


def _plan_undo(spec: Spec, revs: list[dict[str, Any]]) -> dict[str, Any]:
    if not revs:
        raise SpaceEditError("nothing to undo: the space is still the spec's (revision 0)")
    last = revs[-1]
    back_to = int(last["parent"])
    by_n = {int(r["n"]): r for r in revs}
    table = copy.deepcopy(by_n[back_to]["space"]) if back_to else dict(spec.raw["space"])
    parent = int(by_n[back_to]["parent"]) if back_to else 0
    return {"n": int(last["n"]) + 1, "parent": parent, "space": table,
            "change": f"undo of revision {last['n']}: back to revision {back_to}",
            "restores": back_to}


def _entry(table: dict[str, Any], name: str) -> dict[str, Any]:
    if name not in table:
        raise SpaceEditError(f"unknown parameter {name!r}; the space has {', '.join(table)}")
    entry = table[name]
    return entry if isinstance(entry, dict) else {"type": "fixed", "value": entry}


def _set_range(table: dict[str, Any], name: str, bounds: Mapping[str, Any],
               log: bool | None) -> str:
    entry = dict(_entry(table, name))
    if entry.get("type") not in _RANGED:
        raise SpaceEditError(f"{name} is {entry.get('type')}, not a range; "
                             + ("use --choices" if entry.get("type") == "categorical"
                                else f"--free {name} searches it again"))
    low, high = bounds.get("low"), bounds.get("high")
    for v in (low, high):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SpaceEditError(f"{name}: bounds must be numbers, got {v!r}")
    if not low < high:  # type: ignore[operator]
        raise SpaceEditError(f"{name}: low must be below high, got {low!r}..{high!r}")
    entry.update(low=low, high=high)
    if log and entry["type"] in ("float", "int"):
        entry["log"] = True
    default = entry.get("default")
    if isinstance(default, (int, float)) and not low <= default <= high:  # type: ignore[operator]
        del entry["default"]  # the old default lies outside: forms prefill the middle
    table[name] = entry
    return f"{name} in [{low:g}, {high:g}]" + (" log" if entry.get("log") else "")


def _set_choices(table: dict[str, Any], name: str, values: Any, op: str = "choices") -> str:
    """`choices` replaces the list; `add_choices` appends, `drop_choices` removes."""
    entry = dict(_entry(table, name))
    if entry.get("type") != "categorical":
        raise SpaceEditError(f"{name} is {entry.get('type')}, not categorical")
    if not isinstance(values, list) or not values:
        raise SpaceEditError(f"{name}: give at least one choice")
    now = list(entry.get("choices") or [])
    if op == "add_choices":
        new = [v for v in values if v not in now]
        if not new:
            raise SpaceEditError(f"{name}: {', '.join(map(str, values))} already a choice")
        values = now + new
    elif op == "drop_choices":
        absent = [v for v in values if v not in now]
        if absent:
            raise SpaceEditError(f"{name}: {absent[0]!r} is not one of {now}")
        values = [v for v in now if v not in values]
        if not values:
            raise SpaceEditError(f"{name}: dropping every choice leaves none; "
                                 f"--fix {name}=VALUE fixes it instead")
    entry["choices"] = values
    if entry.get("default") not in values:
        entry.pop("default", None)
    table[name] = entry
    return f"{name} in {{{', '.join(map(str, values))}}}"


def _free(spec: Spec, revs: list[dict[str, Any]], table: dict[str, Any], name: str) -> str:
    """Search a fixed parameter again, over the range it last had (newest first)."""
    entry = _entry(table, name)
    if entry.get("type") != "fixed":
        raise SpaceEditError(f"{name} is not fixed (it is {entry.get('type')})")
    for space in [r["space"] for r in reversed(revs)] + [spec.raw["space"]]:
        earlier = space.get(name)
        if isinstance(earlier, dict) and earlier.get("type") != "fixed":
            table[name] = copy.deepcopy(earlier)
            what = earlier["type"]
            bounds = (f" [{earlier['low']:g}, {earlier['high']:g}]" if "low" in earlier
                      else f" {{{', '.join(map(str, earlier.get('choices', [])))}}}")
            return f"{name} free again: {what}{bounds}"
    raise SpaceEditError(f"{name} is fixed in the spec and was never searched, so it has no "
                         f"range to go back to")


def _set_fixed(table: dict[str, Any], space: Space, name: str, value: Any) -> str:
    entry = _entry(table, name)
    try:
        value = space[name].validate(value)
    except SpaceError as exc:
        raise SpaceEditError(str(exc)) from None
    table[name] = {"type": "fixed", "value": value, "mutable": bool(entry.get("mutable", False))}
    if "when" in entry:  # a conditional parameter fixed still exists only where it did
        table[name]["when"] = entry["when"]
    return f"{name} fixed at {value!r}"


def parse_range(text: str) -> tuple[str, dict[str, Any] | list[Any]]:
    """`lr=1e-4..3e-3` -> ("lr", {"low", "high"}); `opt=adam,sgd` -> ("opt", [..])."""
    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not name or not rest.strip():
        raise SpaceEditError(f"expected name=LOW..HIGH or name=a,b, got {text!r}")
    if ".." in rest:
        lo, _, hi = rest.partition("..")
        low, high = parse_scalar(lo), parse_scalar(hi)
        return name, {"low": low, "high": high}
    return name, [parse_scalar(v) for v in rest.split(",") if v.strip()]


def parse_choices(text: str) -> tuple[str, str, list[Any]]:
    """`opt=a,b` -> ("choices", "opt", [a, b]); `opt+=c` adds, `opt-=c` drops."""
    name, sep, rest = text.partition("=")
    op = {"+": "add_choices", "-": "drop_choices"}.get(name[-1:], "choices")
    name = name[:-1] if op != "choices" else name
    values = [parse_scalar(v) for v in rest.split(",") if v.strip()]
    if not sep or not name.strip() or not values:
        raise SpaceEditError(f"expected --choices NAME=a,b, NAME+=c or NAME-=c, got {text!r}")
    return op, name.strip(), values


def outside(space: Space, params: Mapping[str, Any]) -> list[str]:
    """What a hand-made trial (`new`, clone --set) sets outside the space in effect:
    allowed on purpose, but said, e.g. `lr=0.5 (lr: 0.5 is above 0.05)`."""
    out = []
    for name, value in params.items():
        if name not in space:
            continue
        try:
            space[name].validate(value)
        except SpaceError as exc:
            # Numbers as people read them (0.004477, not 0.004477363...): the TUI shows
            # this on one line.
            said = shown(value) if isinstance(value, (int, float)) else repr(value)
            out.append(f"{name}={said} ({exc})")
    return out


def usage_examples(space: Space, spec_space: Space) -> list[str]:
    """Examples of `tuitune space` arguments, for the TUI's space form, in this run's
    own parameter names (`--free` for a parameter an edit fixed, when there is one:
    only those can be freed)."""
    ranged = [p for p in space.params if p.kind in _RANGED]
    out = []
    if ranged:
        p = ranged[0]
        out += [f"{p.name}=LOW..HIGH" + (" --log" if getattr(p, "log", False) else ""),
                f"--fix {p.name}=VALUE"]
    out += [f"--free {p.name}" for p in space.params
            if p.kind == "fixed" and spec_space[p.name].kind != "fixed"][:1]
    out += [f"--choices {p.name}=A,B ({p.name}+=C adds, {p.name}-=C drops)"
            for p in space.params if p.kind == "categorical"][:1]
    return out + ["--undo"]
