"""Several objectives and constraints in the plain views (`best`, `export`): each
trial's value per objective, whether it meets the constraints, and the Pareto
front of the feasible trials (core/pareto.py decides what is on it).

A trial's value for the first objective is its best (as everywhere); for the
other objectives and for constraints it is the last value it reported, or the
built-in measure (core/measures.py) when the script reports no metric of that name.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from tuitune.core.history import Constraint
from tuitune.core.measures import builtin_values
from tuitune.core.pareto import pareto_mask
from tuitune.core.spec import Spec
from tuitune.store import RunStore, TrialRecord


@dataclass(frozen=True)
class Outcome:
    """One trial that reported the first objective."""

    trial: TrialRecord
    values: tuple[float, ...]  # per objective, in its own direction (NaN: none yet)
    violated: tuple[Constraint, ...]  # the constraints it breaks
    on_front: bool

    @property
    def feasible(self) -> bool:
        return not self.violated


def several(spec: Spec) -> bool:
    """Whether the run has several objectives or constraints."""
    return len(spec.all_objectives) > 1 or bool(spec.constraints)


def _last_values(store: RunStore, name: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for tid, _, v in store.metric_rows(name):
        out[tid] = v
    return out


def outcomes(store: RunStore, spec: Spec, now: float | None = None) -> list[Outcome]:
    """Every trial with a finite first-objective value, front first, then by the first
    objective."""
    from tuitune.client.summary import trial_values

    now = time.time() if now is None else now
    first = trial_values(store, spec.objective)
    names = [o.metric for o in spec.all_objectives[1:]] + [c.metric for c in spec.constraints]
    last = {name: _last_values(store, name) for name in dict.fromkeys(names)}
    rows: list[tuple[TrialRecord, tuple[float, ...], tuple[Constraint, ...]]] = []
    for t in store.trials():
        best = first.get(t.id, (None, None, None))[0]
        if best is None or not math.isfinite(best):
            continue
        known: dict[str, float] = builtin_values(t.started_at, t.ended_at,
                                                 t.peak_gpu_mem_mb, now)
        known.update({n: v[t.id] for n, v in last.items() if t.id in v})
        values = (best, *(known.get(o.metric, math.nan) for o in spec.all_objectives[1:]))
        violated = tuple(c for c in spec.constraints if c.violation(known.get(c.metric)) > 0)
        rows.append((t, values, violated))
    losses = [_losses(spec, v) if not bad else (math.nan,) * len(v) for _, v, bad in rows]
    mask = pareto_mask(losses) if rows else []
    out = [Outcome(t, v, bad, bool(on)) for (t, v, bad), on in zip(rows, mask, strict=True)]
    sign = 1.0 if spec.objective.mode == "min" else -1.0
    out.sort(key=lambda o: (not o.on_front, not o.feasible, sign * o.values[0]))
    return out


def _losses(spec: Spec, values: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(v if o.mode == "min" else -v
                 for v, o in zip(values, spec.all_objectives, strict=True))


def marks(outcome: Outcome) -> str:
    """`front`, `infeasible: gpu_mem_mb <= 8000`, or empty."""
    if outcome.violated:
        return "infeasible: " + ", ".join(str(c) for c in outcome.violated)
    return "front" if outcome.on_front else ""


def front_json(store: RunStore, spec: Spec) -> dict[str, object]:
    """What `export` adds with several objectives or constraints."""
    return {
        "objectives": [{"metric": o.metric, "mode": o.mode} for o in spec.all_objectives],
        "constraints": [str(c) for c in spec.constraints],
        "front": [o.trial.id for o in outcomes(store, spec) if o.on_front],
        "infeasible": [o.trial.id for o in outcomes(store, spec) if o.violated],
    }


def objective_heads(spec: Spec) -> list[str]:
    return [f"{o.metric} ({o.mode})" for o in spec.all_objectives]


def value_map(spec: Spec, outcome: Outcome) -> Mapping[str, float]:
    return {o.metric: v for o, v in zip(spec.all_objectives, outcome.values, strict=True)}


def leaderboard(store: RunStore, spec: Spec, limit: int = 10, width: int | None = None) -> str:
    """`tuitune best` with several objectives (the Pareto front of the feasible
    trials) or with constraints (the feasible trials, best first)."""
    from tuitune.client.summary import _fitted, _param_cells, _params_text, measured

    rows_all = outcomes(store, spec)
    if not rows_all:
        return f"no trial has reported {spec.objective.metric} yet"
    multi = len(spec.all_objectives) > 1
    picked = [o for o in rows_all if (o.on_front if multi else o.feasible)]
    picked = picked if multi else picked[:limit]
    n_bad = sum(1 for o in rows_all if o.violated)
    if multi:
        head = (f"Pareto front: {len(picked)} of {len(rows_all)} trials "
                f"({', '.join(objective_heads(spec))})")
    else:
        head = f"best {spec.objective.metric} ({spec.objective.mode}) among feasible trials"
    if spec.constraints:
        head += (f"; constraints {', '.join(str(c) for c in spec.constraints)}: "
                 f"{n_bad} infeasible left out")
    if not picked:
        return head + "\nno trial meets every constraint yet"
    names = list(spec.space.names)
    rows = [[str(i + 1), str(o.trial.id), o.trial.state, o.trial.origin,
             *(measured(v) for v in o.values)] for i, o in enumerate(picked)]
    table = _fitted(["#", "trial", "state", "origin", *objective_heads(spec)], rows, names,
                    [_param_cells(store, o.trial, names) for o in picked],
                    [_params_text(store, o.trial, names) for o in picked], width)
    return head + "\n" + table


def leaderboard_json(store: RunStore, spec: Spec, limit: int | None = None) -> dict[str, object]:
    """`tuitune best --json` with several objectives or constraints."""
    from tuitune.client.summary import _params_json, exact

    rows_all = outcomes(store, spec)
    multi = len(spec.all_objectives) > 1
    picked = [o for o in rows_all if (o.on_front if multi else o.feasible)]
    picked = picked if multi else picked[:limit]
    return {"run": store.meta(["name"]).get("name"),
            "objective": {"metric": spec.objective.metric, "mode": spec.objective.mode},
            **{k: v for k, v in front_json(store, spec).items() if k != "front"},
            "front" if multi else "trials": [
                {"rank": i + 1, "id": o.trial.id, "state": o.trial.state,
                 "origin": o.trial.origin, "best": exact(o.values[0]),
                 "values": {k: exact(v) for k, v in value_map(spec, o).items()},
                 **_params_json(store, o.trial)}
                for i, o in enumerate(picked)]}
