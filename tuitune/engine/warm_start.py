"""Warm start: the finished trials of earlier runs as the searcher's first observations.

`tuitune run SPEC --warm-start RUN...` (or `[search] warm_start = [...]`) reads the
earlier runs once, when the new run is created, and keeps what it took in the new
run's meta (`warm_start`): each imported trial with its source run and trial, its
parameters (completed to this spec's space) and its value, and each refused trial
with the reason. The imports are no trials of this run: they are never rerun, never
counted in the budget, never on the leaderboard; the searcher and the insight see
them as finished trials (`imported_views`, negative ids, origin `imported`).

A trial fits when every parameter this run searches has a value in this run's space
(a parameter it lacks takes this spec's fixed value, or makes it unusable), and its
fixed parameters agree. Runs optimising another metric or direction are refused.
"""

from __future__ import annotations

import dataclasses

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tuitune.core.history import COMPLETED, FINISHED_STATES, History, Objective, TrialView
from tuitune.core.space import FixedParam, Space, SpaceError
from tuitune.core.spec import Spec, load_spec_json

META_KEY = "warm_start"
ORIGIN = "imported"


class WarmStartError(ValueError):
    """A warm-start source that cannot be used at all; str() is one line."""


def fit(space: Space, params: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """This run's parameters for an earlier trial's, or (None, why it does not fit)."""
    out: dict[str, Any] = {}
    for p in space.params:
        if p.name not in params:
            if isinstance(p, FixedParam):
                out[p.name] = p.value
                continue
            return None, f"it has no {p.name}, which this run searches"
        try:
            out[p.name] = p.validate(params[p.name])
        except SpaceError as exc:
            return None, f"outside this run's space: {exc}"
    return out, ""


def select(space: Space, source: str, trials: Iterable[TrialView]
           ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(imported, refused) from one source run's trials; each a JSON-able record."""
    imported, refused = [], []
    for t in trials:
        where = {"source_run": source, "source_trial": t.id}
        if t.state not in FINISHED_STATES:
            refused.append({**where, "reason": f"not finished ({t.state})"})
            continue
        if t.value is None or not math.isfinite(t.value):
            refused.append({**where, "reason": f"{t.state} without an objective value"})
            continue
        params, why = fit(space, t.effective_params())
        if params is None:
            refused.append({**where, "reason": why})
            continue
        imported.append({**where, "params": params, "value": t.value,
                         "step": t.last_step, "state": t.state})
    return imported, refused


def check_objective(mine: Objective, theirs: Objective, source: str) -> None:
    if (mine.metric, mine.mode) != (theirs.metric, theirs.mode):
        raise WarmStartError(
            f"warm start from {source}: it optimises {theirs.metric} ({theirs.mode}), this "
            f"run {mine.metric} ({mine.mode}); its values would mean something else")


def gather(spec: Spec, run_dirs: Sequence[Path]) -> dict[str, Any]:
    """Read the source runs; the record to keep in the new run's meta."""
    from tuitune.engine.snapshot import ObjectiveCurves, build_history
    from tuitune.store import RunStore

    record: dict[str, Any] = {"sources": [], "imported": [], "refused": []}
    for run_dir in run_dirs:
        store = RunStore(run_dir, readonly=True)
        try:
            source_spec = load_spec_json(store.meta(["spec"])["spec"])
            check_objective(spec.objective, source_spec.objective, run_dir.name)
            curves = ObjectiveCurves(source_spec.objective.metric)
            curves.update(store)
            history = build_history(store, source_spec.objective, curves, time.time(),
                                    source_spec.budget.max_steps)
        finally:
            store.close()
        imported, refused = select(spec.space, run_dir.name, history.trials)
        record["sources"].append(run_dir.name)
        record["imported"] += imported
        record["refused"] += refused
    return record


def summary(record: Mapping[str, Any]) -> str:
    """`warm start: 12 trials imported from a, b; 3 refused (2: it has no units, ...)`."""
    imported, refused = record.get("imported", []), record.get("refused", [])
    line = (f"warm start: {len(imported)} trial{'s' * (len(imported) != 1)} imported from "
            f"{', '.join(record.get('sources', []))}")
    if refused:
        reasons: dict[str, int] = {}
        for r in refused:
            key = r["reason"].split(":")[0] if "outside" in r["reason"] else r["reason"]
            reasons[key] = reasons.get(key, 0) + 1
        line += f"; {len(refused)} refused (" + "; ".join(
            f"{n}: {why}" for why, n in sorted(reasons.items(), key=lambda kv: -kv[1])) + ")"
    return line


def numbered(record: Mapping[str, Any] | None) -> list[tuple[int, dict[str, Any]]]:
    """The imported trials with their ids -1, -2, ...: how the searcher, the insight,
    `status --imported` and the TUI's table all number them."""
    return [(-i, r) for i, r in enumerate((record or {}).get("imported", []), start=1)]


def imported_views(record: Mapping[str, Any] | None, objective: Objective
                   ) -> tuple[TrialView, ...]:
    """The imports as finished trials for the searcher and the insight."""
    views = []
    for trial_id, r in numbered(record):
        step: int = r["step"] if r.get("step") is not None else 0
        views.append(TrialView(id=trial_id, state=r.get("state", COMPLETED), params=r["params"],
                               origin=ORIGIN, curve=((step, r["value"]),), value=r["value"]))
    return tuple(views)


def with_imports(history: History, record: Mapping[str, Any] | None) -> History:
    """`history` with the run's imported trials added (unchanged when it has none)."""
    views = imported_views(record, history.objective)
    if not views:
        return history
    return dataclasses.replace(history, trials=views + history.trials)


def imported_table(record: Mapping[str, Any] | None) -> str:
    """`tuitune status RUN --imported`: each imported trial, then each refused one."""
    from tuitune.core.history import describe_params
    from tuitune.core.numfmt import value as shown

    if not record:
        return "no trials imported (the run was not warm-started)"
    lines = [summary(record)]
    for trial_id, r in numbered(record):
        lines.append(f"  {trial_id}  {r['source_run']} trial {r['source_trial']}  "
                     f"{shown(r['value'])}  {describe_params(r['params'], value=shown)}")
    for r in record.get("refused", []):
        lines.append(f"  refused  {r['source_run']} trial {r['source_trial']}: {r['reason']}")
    return "\n".join(lines)
