"""Plain-text and data views of a run: leaderboard, status, export."""

from __future__ import annotations

import csv
import io
import json
import math
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tuitune.client import front
from tuitune.core import numfmt
from tuitune.core.history import (
    FINISHED_STATES,
    Objective,
    applied_changes,
    describe_params,
    param_values,
)
from tuitune.core.spec import Spec
from tuitune.store import EventRecord, RunStore, TrialRecord
from tuitune.core.textsafe import escape_controls

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


#: How many of a trial's last reports its `end` value averages. One reported value carries
#: one epoch's noise; on the real-curve recording, picking the winner by the mean of its
#: last three epochs instead of its single best or final value picked better for every
#: strategy but Hyperband (docs/stopping.md, issue 18 item 4).
END_POINTS = 3


def end_values(store: RunStore, objective: Objective, n: int = END_POINTS) -> dict[int, float]:
    """Per trial that reported the objective: the mean of its last `n` values (of all it
    has, when fewer): where it ended, with one report's noise averaged out. NaN when one
    of them is not finite: a trial that diverged at the end did not end well."""
    tails: dict[int, list[float]] = {}
    for tid, _, v in store.metric_rows(objective.metric):
        tail = tails.setdefault(tid, [])
        tail.append(v)
        if len(tail) > n:
            del tail[0]
    return {tid: math.fsum(tail) / len(tail) if all(map(math.isfinite, tail)) else math.nan
            for tid, tail in tails.items()}


#: What `tuitune best --by` ranks by.
RANKINGS = ("best", "end")


def fmt(value: Any) -> str:
    """A value as the CLI shows it (tuitune/numfmt.py: the rule the TUI uses too)."""
    return numfmt.value(value)


def measured(value: Any) -> str:
    """A metric's value in a column (numfmt.column_number: trailing zeros kept)."""
    return numfmt.column_number(value)


def exact(value: Any) -> Any:
    """A value for JSON: exact, with NaN and infinities as strings (JSON has none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns two spaces apart; a column of numbers right-aligned with its decimal
    points lined up (numfmt.align_decimals), so digits of one place stand one above
    the other."""
    numeric = [any(r[i] != "-" for r in rows)
               and all(r[i] == "-" or numfmt.is_numeric(r[i]) for r in rows)
               for i in range(len(headers))]
    columns = [numfmt.align_decimals([r[i] for r in rows]) if num else [r[i] for r in rows]
               for i, num in enumerate(numeric)]
    rows = [list(cells) for cells in zip(*columns, strict=True)] if rows else []
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w)
                         for c, w, num in zip(cells, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])


def _crop(line: str, width: int) -> str:
    return line if len(line) <= width else line[: max(width - 1, 0)] + "…"


def _fitted(headers: list[str], rows: list[list[str]], extra_headers: list[str],
            extras: list[list[str]], under: list[str], width: int | None) -> str:
    """A table that fits `width` columns: the `extra` columns (parameters, notes) stay in
    the row when everything fits (or `width` is None: --wide); otherwise each row's
    `under` text is wrapped below it, indented, and any line still too long ends in `…`."""
    full = _table(headers + extra_headers, [r + e for r, e in zip(rows, extras, strict=True)])
    if width is None or max(len(line) for line in full.split("\n")) <= width:
        return full
    head, *lines = _table(headers, rows).split("\n")
    out = [_crop(head, width)]
    for line, text in zip(lines, under, strict=True):
        out.append(_crop(line, width))
        if text:
            out += [_crop(w, width) for w in textwrap.wrap(
                text, width, initial_indent="    ", subsequent_indent="    ",
                break_on_hyphens=False)]
    return "\n".join(out)


def _param_cells(store: RunStore, trial: TrialRecord, names: list[str]) -> list[str]:
    """One cell per parameter: its value, or for a tweaked one what it started with and
    each change with its step ('1.166 → 0.02 @45'): the trial ran a schedule, and its
    last value alone would credit the result to a value it barely ran with."""
    changes = store.param_history(trial.id)
    return [param_values(n, trial.params.get(n), changes, fmt) for n in names]


def _params_text(store: RunStore, trial: TrialRecord, names: list[str] | None = None) -> str:
    """`lr 1.166 → 0.02 @45 units=8` (history.describe_params: the one formatter)."""
    return describe_params(trial.params, store.param_history(trial.id), fmt, names)


def ranked(store: RunStore, spec: Spec) -> list[tuple[TrialRecord, float]]:
    """Trials that reported the objective, best first, with their best value."""
    values = trial_values(store, spec.objective)
    trials = [(t, values[t.id][0]) for t in store.trials()
              if values.get(t.id, (None,))[0] is not None]
    sign = 1 if spec.objective.mode == "min" else -1
    trials.sort(key=lambda tv: sign * tv[1])  # type: ignore[operator]
    return trials  # type: ignore[return-value]


def _ranked_by(store: RunStore, spec: Spec, by: str
               ) -> list[tuple[TrialRecord, float, float]]:
    """Trials that reported the objective with (best, end), ranked by `by` (RANKINGS);
    by end, trials without a finite end go last, and ties rank in trial order."""
    if by not in RANKINGS:
        raise ValueError(f"--by must be one of {', '.join(RANKINGS)}, got {by!r}")
    ends = end_values(store, spec.objective)
    rows = [(t, best, ends.get(t.id, math.nan)) for t, best in ranked(store, spec)]
    if by == "end":
        sign = 1 if spec.objective.mode == "min" else -1
        rows.sort(key=lambda r: (not math.isfinite(r[2]), sign * r[2] if math.isfinite(r[2])
                                 else 0.0, r[0].id))
    return rows


def _single_objective(spec: Spec, by: str) -> None:
    if by != "best" and front.several(spec):
        raise ValueError("--by end ranks by one objective; this run has several objectives "
                         "or constraints, so `best` lists its Pareto front or feasible trials")


def leaderboard(store: RunStore, spec: Spec, limit: int = 10, width: int | None = None,
                by: str = "best") -> str:
    """The `limit` best trials by their best value, or by their end value (`by = "end"`:
    the mean of their last END_POINTS values); parameters wrapped under each row when
    `width` is short. With several objectives the Pareto front; with constraints the
    feasible trials."""
    _single_objective(spec, by)
    if front.several(spec):
        return front.leaderboard(store, spec, limit, width)
    names = spec.space.names
    top = _ranked_by(store, spec, by)[:limit]
    if not top:
        return f"no trial has reported {spec.objective.metric} yet"
    rows = [[str(i + 1), str(t.id), t.state, t.origin, measured(best), measured(end)]
            for i, (t, best, end) in enumerate(top)]
    heads = [f"best {spec.objective.metric} ({spec.objective.mode})", f"end (last {END_POINTS})"]
    return _fitted(["#", "trial", "state", "origin", *heads], rows, list(names),
                   [_param_cells(store, t, list(names)) for t, _, _ in top],
                   [_params_text(store, t, list(names)) for t, _, _ in top], width)


def leaderboard_json(store: RunStore, spec: Spec, limit: int | None = None,
                     by: str = "best") -> dict[str, Any]:
    _single_objective(spec, by)
    if front.several(spec):
        return front.leaderboard_json(store, spec, limit)
    top = _ranked_by(store, spec, by)[:limit]
    return {"run": store.meta(["name"]).get("name"), "objective": _objective(spec),
            "ranked_by": by, "end_points": END_POINTS,
            "trials": [{"rank": i + 1, "id": t.id, "state": t.state, "origin": t.origin,
                        "best": exact(best), "end": exact(end),
                        **_params_json(store, t)}
                       for i, (t, best, end) in enumerate(top)]}


def _params_json(store: RunStore, trial: TrialRecord) -> dict[str, Any]:
    """What the trial started with, and each tweak it applied from which step."""
    return {"params": {k: exact(v) for k, v in trial.params.items()},
            "changes": [{"name": c.name, "value": exact(c.value), "step": c.step}
                        for c in applied_changes(store.param_history(trial.id))]}


def _objective(spec: Spec) -> dict[str, str]:
    return {"metric": spec.objective.metric, "mode": spec.objective.mode}


def status(store: RunStore, spec: Spec, supervisor: str, width: int | None = None) -> str:
    """The run's trials; parameters and notes wrapped under each row when `width` is short
    (None: every column in the row, `--wide`)."""
    meta = store.meta(["name", "strategy", "max_trials"])
    values = trial_values(store, spec.objective)
    trials = store.trials()
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state] = counts.get(t.state, 0) + 1
    head = (f"run {meta.get('name')}  strategy {meta.get('strategy')}  supervisor {supervisor}\n"
            f"trials: {len(trials)}"
            + (f"/{meta['max_trials']}" if meta.get("max_trials") else "")
            + ("  " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) if counts
               else ""))
    now = time.time()
    # Several objectives or constraints: a column per further objective and a mark,
    # from the outcomes `best` and `export` use (client/front.py), so they agree.
    several = front.several(spec)
    outcomes = {o.trial.id: o for o in front.outcomes(store, spec, now)} if several else {}
    more = spec.all_objectives[1:]
    if several:
        head += "\n" + _front_head(spec, list(outcomes.values()))
    if width is not None:
        head = "\n".join(_crop(line, width) for line in head.split("\n"))
    rows, extras, under = [], [], []
    for t in trials:
        best, latest, step = values.get(t.id, (None, None, None))
        elapsed = ((t.ended_at or now) - t.started_at) if t.started_at else None
        o = outcomes.get(t.id)
        marks = [_mark(o)] if several else []
        rows.append([str(t.id), t.state, t.origin + (f" of #{t.parent_id}" if t.parent_id else ""),
                     fmt(step), measured(latest), measured(best),
                     *(measured(o.values[i + 1]) if o else "-" for i in range(len(more))),
                     *marks,
                     f"{elapsed:.0f}s" if elapsed is not None else "-"])
        params = _params_text(store, t)
        note = escape_controls(t.note or "")
        extras.append([params, note])
        under.append(params + (f"  note: {note}" if note else ""))
    table = _fitted(["id", "state", "origin", "step", "latest", "best",
                     *(o.metric for o in more), *(["front"] if several else []), "elapsed"],
                    rows, ["params", "note"], extras, under, width)
    return head + "\n" + table


def _mark(outcome: front.Outcome | None) -> str:
    """A trial's cell in the `front` column: on the Pareto front of the feasible trials
    (with one objective: the best feasible trial), breaking a constraint, or neither."""
    if outcome is None or not (outcome.violated or outcome.on_front):
        return "-"
    return "infeasible" if outcome.violated else "front"


def _front_head(spec: Spec, outcomes: list[front.Outcome]) -> str:
    """`objectives: loss (min), cost (min); constraints: mem <= 400` and which trials
    are on the front and which break a constraint."""
    line = "objectives: " + ", ".join(front.objective_heads(spec))
    if spec.constraints:
        line += "; constraints: " + ", ".join(str(c) for c in spec.constraints)
    on = [str(o.trial.id) for o in sorted(outcomes, key=lambda o: o.trial.id) if o.on_front]
    bad = [str(o.trial.id) for o in sorted(outcomes, key=lambda o: o.trial.id) if o.violated]
    line += "\nfront: " + (", ".join(on) if on else "none yet")
    return line + (f"; infeasible: {', '.join(bad)}" if bad else "")


def status_json(store: RunStore, spec: Spec, supervisor_pid: int | None) -> dict[str, Any]:
    meta = store.meta(["name", "strategy", "max_trials", "state", "created_at"])
    values = trial_values(store, spec.objective)
    several = front.several(spec)
    outcomes = {o.trial.id: o for o in front.outcomes(store, spec)} if several else {}
    trials = []
    for t in store.trials():
        best, latest, step = values.get(t.id, (None, None, None))
        o = outcomes.get(t.id)
        trials.append({
            "id": t.id, "state": t.state, "origin": t.origin, "parent_id": t.parent_id,
            "step": step, "latest": exact(latest), "best": exact(best),
            "started_at": t.started_at, "ended_at": t.ended_at,
            **_params_json(store, t),
            "note": t.note or "",
            **({"values": {k: exact(v) for k, v in front.value_map(spec, o).items()}
                if o else None, "pareto_front": bool(o and o.on_front),
                "feasible": None if o is None else o.feasible} if several else {})})
    return {"run": meta.get("name"), "state": meta.get("state"),
            "strategy": meta.get("strategy"), "max_trials": meta.get("max_trials"),
            "created_at": meta.get("created_at"), "supervisor_pid": supervisor_pid,
            "objective": _objective(spec),
            **(front.front_json(store, spec) if several else {}), "trials": trials}


def event_json(e: EventRecord) -> dict[str, Any]:
    return {"id": e.id, "t": e.t, "trial_id": e.trial_id, "kind": e.kind, "actor": e.actor,
            "message": e.message}


def export_rows(store: RunStore, spec: Spec) -> tuple[list[str], list[list[Any]]]:
    trials = {t.id: t for t in store.trials()}
    names = spec.space.names
    headers = ["trial_id", "state", "origin", "step", "metric", "value", "time", *names]
    marks: dict[int, list[bool]] = {}
    if front.several(spec):  # several objectives or constraints: which trials count
        headers += ["pareto_front", "feasible"]
        marks = {o.trial.id: [o.on_front, o.feasible] for o in front.outcomes(store, spec)}
    rows = []
    for p in store.metrics():
        t = trials[p.trial_id]
        rows.append([p.trial_id, t.state, t.origin, p.step, p.name, p.value, p.t,
                     *(t.params.get(n) for n in names),
                     *(marks.get(p.trial_id, ["", ""]) if marks or front.several(spec) else [])])
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
    events = [event_json(e) for e in store.events()]
    several = front.front_json(store, spec) if front.several(spec) else {}
    return json.dumps({"run": store.meta().get("name"), "objective": {
        "metric": spec.objective.metric, "mode": spec.objective.mode}, **several,
        "trials": trials, "events": events}, indent=1)


# -- `tuitune ls` -----------------------------------------------------------------------------
@dataclass(frozen=True)
class RunOverview:
    """One run as `tuitune ls` lists it; `error` says why a run could not be read."""

    name: str
    path: str
    state: str  # live, finished, detached (no supervisor: `tuitune resume`), unreadable
    created_at: float | None
    trials_done: int | None
    trials_total: int | None  # the budget (max_trials), or the trials it has had if more
    best: float | None
    objective: dict[str, str] | None
    error: str | None = None
    # Every objective with its best value among feasible trials; with several
    # objectives or constraints, the trials on the Pareto front and the infeasible
    # ones (as `best --json` and `export` list them), else None.
    objectives: list[dict[str, Any]] | None = None
    front: list[int] | None = None
    infeasible: list[int] | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["best"] = exact(self.best)
        for o in out["objectives"] or []:
            o["best"] = exact(o["best"])
        return out

    def front_cell(self) -> str:
        """`12.5 (cost), front 3, 2 infeasible`: what the `best` cell leaves out."""
        if self.front is None or self.infeasible is None:
            return "-"
        parts = [f"{fmt(o['best']) if o['best'] is not None else '-'} ({o['metric']})"
                 for o in (self.objectives or [])[1:]]
        if len(self.objectives or []) > 1:
            parts.append(f"front {len(self.front)}")
        if self.infeasible:
            parts.append(f"{len(self.infeasible)} infeasible")
        return ", ".join(parts) or "-"


def run_overview(run_dir: Path) -> RunOverview:
    """A run's line; a run that cannot be read says why, and the others still list."""
    from tuitune.engine.ownership import NotYours
    from tuitune.engine.runs import resolve_run, supervisor_info
    from tuitune.core.spec import load_spec_json
    from tuitune.store import StoreUnreadable, StoreVersionError

    try:
        run_dir = resolve_run(str(run_dir))
        store = RunStore(run_dir, readonly=True)
        try:
            meta = store.meta(["state", "created_at", "max_trials", "spec"])
            alive = supervisor_info(store).alive
            trials = store.trials()
            spec = load_spec_json(meta["spec"])
            values = trial_values(store, spec.objective)
            outcomes = front.outcomes(store, spec) if front.several(spec) else None
        finally:
            store.close()
    except (StoreUnreadable, StoreVersionError, NotYours, OSError) as exc:
        return RunOverview(run_dir.name, str(run_dir), "unreadable", None, None, None, None,
                           None, str(exc))
    if outcomes is None:
        columns = [[b for b, _, _ in values.values() if b is not None]]
    else:  # as `best`: among the feasible trials only
        feasible = [o for o in outcomes if o.feasible]
        columns = [[o.values[i] for o in feasible if math.isfinite(o.values[i])]
                   for i in range(len(spec.all_objectives))]
    bests = [(min if o.mode == "min" else max)(c) if c else None
             for o, c in zip(spec.all_objectives, columns, strict=True)]
    state = "live" if alive else ("finished" if meta.get("state") == "finished" else "detached")
    return RunOverview(
        run_dir.name, str(run_dir), state, meta.get("created_at"),
        sum(t.state in FINISHED_STATES for t in trials),
        max(meta.get("max_trials") or 0, len(trials)), bests[0], _objective(spec),
        objectives=[{"metric": o.metric, "mode": o.mode, "best": b}
                    for o, b in zip(spec.all_objectives, bests, strict=True)],
        front=None if outcomes is None else [o.trial.id for o in outcomes if o.on_front],
        infeasible=None if outcomes is None else [o.trial.id for o in outcomes if o.violated])


def runs_table(runs: list[RunOverview], width: int | None = None) -> str:
    """Runs oldest first (newest last, next to the prompt), aligned; unreadable ones say
    why, last in their row (a long reason widens no column). A run with several
    objectives or constraints adds a `front` column (the other objectives' bests, the
    front's size, the infeasible trials). What does not fit `width` goes on the line
    under each row, indented: the front, or with long run names the best value too, so
    no row wraps (a reason stays whole: it names a file to look at)."""
    rows = []
    for r in runs:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at)) \
            if r.created_at else "-"
        if r.error is not None:
            rows.append([escape_controls(r.name), started, "unreadable", "-",
                         escape_controls(r.error)])
            continue
        best = "-" if r.objective is None or r.best is None else \
            f"{measured(r.best)} ({r.objective['metric']})"
        rows.append([escape_controls(r.name), started, r.state,
                     f"{r.trials_done}/{r.trials_total}", best])
    headers = ["run", "started", "state", "trials", "best"]
    fronts = [r.front_cell() for r in runs] if any(r.front is not None for r in runs) else []
    head, *lines = _table(headers, rows).split("\n")
    readable = [line for line, r in zip(lines, runs, strict=True) if r.error is None]
    if width is None or max(map(len, [head, *readable])) <= width:
        if fronts:
            table = _fitted(headers, rows, ["front"], [[c] for c in fronts],
                            [c if c != "-" else "" for c in fronts], width)
        else:
            table = "\n".join([head, *lines])
    else:
        table = _best_under(headers[:-1], rows, runs, fronts, width)
    if any(r.state == "detached" for r in runs):
        table += "\ndetached: no supervisor (died, or a reboot); `tuitune resume RUN` takes over"
    return table


def _best_under(headers: list[str], rows: list[list[str]], runs: list[RunOverview],
                fronts: list[str], width: int) -> str:
    """`ls` too wide for the terminal: each row without its best, which goes under it
    with the front ('    best 0.3286 (val_loss); 12.5 (cost), front 3')."""
    head, *lines = _table(headers, [row[:-1] for row in rows]).split("\n")
    out = [head]
    for i, (line, row, r) in enumerate(zip(lines, rows, runs, strict=True)):
        out.append(line)
        if r.error is not None:
            out.append("    " + row[-1])
            continue
        parts = [f"best {row[-1]}" if row[-1] != "-" else "",
                 fronts[i] if fronts and fronts[i] != "-" else ""]
        text = "; ".join(p for p in parts if p)
        out += textwrap.wrap(text, width, initial_indent="    ", subsequent_indent="    ",
                             break_on_hyphens=False)
    return "\n".join(out)


def sort_runs(runs: list[RunOverview]) -> list[RunOverview]:
    # Unreadable runs have no start time: they come first, in the order given (mtime).
    return sorted(runs, key=lambda r: r.created_at or 0.0)
