"""Plain-text and data views of a run: leaderboard, status, export."""

from __future__ import annotations

import csv
import io
import json
import math
import time
from typing import Any

from tuitune.history import Objective, describe_params, param_values
from tuitune.spec import Spec
from tuitune.store import RunStore, TrialRecord

Values = tuple[float | None, float | None, int | None]


def trial_values(store: RunStore, objective: Objective) -> dict[int, Values]:
    """Per trial: (best, latest, last step) of the objective."""
    out: dict[int, Values] = {}
    for tid, step, v in store.metric_rows(objective.metric):
        best, _, _ = out.get(tid, (None, None, None))
        if math.isfinite(v) and (best is None or objective.better(v, best)):
            best = v
        out[tid] = (best, v, step)
    return out


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def _param_cells(store: RunStore, trial: TrialRecord, names: list[str]) -> list[str]:
    """One cell per parameter: its value, or for a tweaked one what it started with and
    each change with its step ('1.166 → 0.02 @45'): the trial ran a schedule, and its
    last value alone would credit the result to a value it barely ran with."""
    changes = store.param_history(trial.id)
    return [param_values(n, trial.params.get(n), changes, fmt) for n in names]


def leaderboard(store: RunStore, spec: Spec, limit: int = 10) -> str:
    values = trial_values(store, spec.objective)
    trials = [t for t in store.trials() if values.get(t.id, (None,))[0] is not None]
    sign = 1 if spec.objective.mode == "min" else -1
    trials.sort(key=lambda t: sign * values[t.id][0])  # type: ignore[operator]
    names = spec.space.names
    rows = [[str(i + 1), str(t.id), t.state, t.origin, fmt(values[t.id][0]),
             *_param_cells(store, t, names)]
            for i, t in enumerate(trials[:limit])]
    head = f"best {spec.objective.metric} ({spec.objective.mode})"
    if not rows:
        return f"no trial has reported {spec.objective.metric} yet"
    return _table(["#", "trial", "state", "origin", head, *names], rows)


def status(store: RunStore, spec: Spec, supervisor: str) -> str:
    meta = store.meta()
    values = trial_values(store, spec.objective)
    trials = store.trials()
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state] = counts.get(t.state, 0) + 1
    head = (f"run {meta.get('name')}  strategy {meta.get('strategy')}  supervisor {supervisor}\n"
            f"trials: {len(trials)}"
            + (f"/{meta['max_trials']}" if meta.get("max_trials") else "")
            + "  " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    now = time.time()
    rows = []
    for t in trials:
        best, latest, step = values.get(t.id, (None, None, None))
        elapsed = ((t.ended_at or now) - t.started_at) if t.started_at else None
        rows.append([str(t.id), t.state, t.origin + (f" of #{t.parent_id}" if t.parent_id else ""),
                     fmt(step), fmt(latest), fmt(best),
                     f"{elapsed:.0f}s" if elapsed is not None else "-",
                     describe_params(t.params, store.param_history(t.id), fmt),
                     t.note])
    table = _table(["id", "state", "origin", "step", "latest", "best", "elapsed", "params",
                    "note"], rows)
    return head + "\n" + table


def export_rows(store: RunStore, spec: Spec) -> tuple[list[str], list[list[Any]]]:
    trials = {t.id: t for t in store.trials()}
    names = spec.space.names
    headers = ["trial_id", "state", "origin", "step", "metric", "value", "time", *names]
    rows = []
    for p in store.metrics():
        t = trials[p.trial_id]
        rows.append([p.trial_id, t.state, t.origin, p.step, p.name, p.value, p.t,
                     *(t.params.get(n) for n in names)])
    return headers, rows


def export_csv(store: RunStore, spec: Spec) -> str:
    headers, rows = export_rows(store, spec)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(headers)
    writer.writerows(rows)
    return buf.getvalue()


def export_json(store: RunStore, spec: Spec) -> str:
    trials = []
    points: dict[int, dict[str, list[list[float]]]] = {}
    for p in store.metrics():
        points.setdefault(p.trial_id, {}).setdefault(p.name, []).append(
            [p.step, p.value if math.isfinite(p.value) else str(p.value), p.t])
    changes: dict[int, list[dict[str, Any]]] = {}
    for c in store.param_changes():
        changes.setdefault(c.trial_id, []).append(
            {"name": c.name, "value": c.value, "step": c.applied_step, "actor": c.actor})
    for t in store.trials():
        trials.append({
            "id": t.id, "state": t.state, "origin": t.origin, "parent_id": t.parent_id,
            "clone_step": t.clone_step, "params": t.params, "changes": changes.get(t.id, []),
            "note": t.note, "exit_code": t.exit_code, "started_at": t.started_at,
            "ended_at": t.ended_at, "metrics": points.get(t.id, {}),
        })
    events = [{"t": e.t, "trial_id": e.trial_id, "kind": e.kind, "actor": e.actor,
               "message": e.message} for e in store.events()]
    return json.dumps({"run": store.meta().get("name"), "objective": {
        "metric": spec.objective.metric, "mode": spec.objective.mode},
        "trials": trials, "events": events}, indent=1)
