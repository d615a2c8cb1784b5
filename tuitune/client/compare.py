"""`tuitune compare RUN_A RUN_B`: the best trials of two runs side by side.

One column per trial (the best `n` of each run, best first), one row per fact: the
trial, its state, the objective, then every parameter of either run (`-` where a run
has no such parameter; a tweaked one reads as its schedule, as in `best`). `--json`
gives the same as two leaderboards (docs/cli.md).
"""

from __future__ import annotations

from typing import Any

from tuitune.client.summary import _param_cells, _table, fmt, leaderboard_json, ranked
from tuitune.core.spec import Spec
from tuitune.store import RunStore

Run = tuple[str, RunStore, Spec]


def compare_text(runs: list[Run], n: int = 1) -> str:
    names: list[str] = []
    for _, _, spec in runs:
        names += [p for p in spec.space.names if p not in names]
    headers, columns = [""], []
    for label, store, spec in runs:
        top = ranked(store, spec)[:n]
        if not top:
            headers.append(f"{label}: none")
            columns.append(["-"] * (3 + len(names)))
            continue
        for rank, (trial, best) in enumerate(top, start=1):
            headers.append(f"{label} #{rank}" if n > 1 else label)
            cells = dict(zip(spec.space.names,
                             _param_cells(store, trial, list(spec.space.names)), strict=True))
            columns.append([str(trial.id), trial.state, fmt(best)]
                           + [cells.get(p, "-") for p in names])
    metrics = {f"{s.objective.metric} ({s.objective.mode})" for _, _, s in runs}
    objective = metrics.pop() if len(metrics) == 1 else "objective"
    labels = ["trial", "state", objective, *names]
    rows = [[labels[i]] + [c[i] for c in columns] for i in range(len(labels))]
    out = _table(headers, rows)
    if len({(s.objective.metric, s.objective.mode) for _, _, s in runs}) > 1:
        out += "\nnote: the runs optimise different objectives: " + ", ".join(
            f"{label} {s.objective.metric} ({s.objective.mode})" for label, _, s in runs)
    return out


def compare_json(runs: list[Run], n: int = 1) -> dict[str, Any]:
    return {"runs": [leaderboard_json(store, spec, n) | {"name": label}
                     for label, store, spec in runs]}
