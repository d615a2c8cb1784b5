"""What the TUI knows about a run, read from the store incrementally. No Textual.

`RunModel.poll()` runs in one worker thread, which owns the model and its store
connection; it returns a `RunDelta` of frozen records that the UI thread applies.
The first poll reads the trials with the per-trial summaries of the objective that
the store keeps as points arrive (no point is read), later polls read only what
changed: trials updated since the last poll, metric points and events after the
last seen id. A store from before summaries were kept computes them in one pass
over the objective's points, after the rows are on screen.

Full objective curves are kept only for the trials that need them: active ones
(their sparklines move), visible ones (their sparklines are drawn) and charted
ones (`set_wanted`). That keeps opening a run of 1,000 trials x 1,000 points
bounded by the number of trials, not by a million points.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tuitune.executors.local import process_matches
from tuitune.core.history import ACTIVE_STATES, Objective, current_params
from tuitune.core.spec import Spec
from tuitune.store import MetricSummary, RunStore, TrialRecord
from tuitune.ui.records import Change, Curve, RunDelta, RunHeader, TrialRow
from tuitune.ui.series import buckets

#: Cells of a trial's sparkline in the table.
SPARK_CELLS = 12
#: Trials updated this long before the last seen update are read again: two
#: processes write the trials table, so commit order and clock order may differ.
TRIAL_OVERLAP_S = 5.0
#: Most metric points read in one poll; the rest wait for the next one.
MAX_POINTS_PER_POLL = 100_000
#: Seconds between checks that the supervisor process is alive.
SUPERVISOR_CHECK_S = 2.0
#: Pareto and feasibility marks are read again after new points at most this often
#: (seconds), and without new points this often (a built-in measure grows with time).
MARKS_MIN_S, MARKS_INTERVAL_S = 1.0, 5.0
#: Trials whose metric names are read when a run without summaries opens (the most
#: recent ones).
NAME_TRIALS = 200
#: Rows assumed on screen when a run opens (the table starts at the lowest ids).
OPENING_ROWS = 60
#: The meta keys the header needs (the stored spec, the biggest value, is not one).
HEADER_META = ("name", "strategy", "max_trials", "max_concurrent", "started_at", "state",
               "finished_reason", "heartbeat", "supervisor_pid", "supervisor_start")
#: Events whose arrival means tweaks (param_changes) must be read again.
_TWEAK_EVENTS = frozenset({"tweak_requested", "tweak_applied", "created"})


@dataclass
class _Agg:
    """Running aggregates of a trial's objective."""

    n: int = 0
    step: int | None = None
    latest: float | None = None
    best: float | None = None

    @classmethod
    def of(cls, s: MetricSummary, objective: Objective) -> _Agg:
        return cls(s.points, s.last_step, s.last_value, s.best(objective.mode))


class _Series:
    """A growing (step, value) series kept in step order."""

    __slots__ = ("steps", "values")

    def __init__(self, steps: Iterable[int] = (), values: Iterable[float] = ()) -> None:
        self.steps = list(steps)
        self.values = list(values)

    def add(self, step: int, value: float) -> None:
        if not self.steps or step >= self.steps[-1]:
            self.steps.append(step)
            self.values.append(value)
            return
        i = bisect.bisect_right(self.steps, step)  # rare: a step reported out of order
        self.steps.insert(i, step)
        self.values.insert(i, value)

    def freeze(self, trial_id: int, metric: str) -> Curve:
        steps = np.array(self.steps, dtype=np.int64)
        values = np.array(self.values, dtype=float)
        steps.flags.writeable = False
        values.flags.writeable = False
        return Curve(trial_id, metric, steps, values)


class RunModel:
    """Reads one run's store for the UI. Use from one thread only (except the setters).

    Args:
        run_dir: The run folder.
        spec: The run's spec (read once by the caller).
        clock: Wall clock (injected for tests).
        store_factory: Opens the store; called in the polling thread.
    """

    def __init__(self, run_dir: Path, spec: Spec, clock: Callable[[], float] = time.time,
                 store_factory: Callable[[Path], RunStore] | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.spec = spec
        self.objective = spec.objective
        self.clock = clock
        self._factory = store_factory or (lambda p: RunStore(p))
        self._store: RunStore | None = None
        self._records: dict[int, TrialRecord] = {}
        self._aggs: dict[int, _Agg] = {}
        self._changes: dict[int, tuple[Change, ...]] = {}
        self._curves: dict[int, _Series] = {}  # objective, for tracked trials
        self._sparks: dict[int, tuple[float, ...]] = {}
        self._extra: dict[tuple[int, str], _Series] = {}  # wanted non-objective curves
        self._names: set[str] = set()
        self._last_metric = 0
        self._last_event = 0
        self._trials_seen = 0.0
        self._lock = threading.Lock()
        self._wanted: frozenset[tuple[int, str]] = frozenset()
        self._visible: frozenset[int] = frozenset()
        self._sup_ident: tuple[object, object] = (None, None)
        self._sup_checked = float("-inf")
        self._sup_alive = False
        self._phase = 0  # opening: 0 nothing read, 1 trials, 2 visible rows; 3 open
        self._summarized = False  # every trial's values came with the trials
        self._sent: set[tuple[int, str]] = set()
        self._marks: dict[int, str] = {}  # several objectives/constraints: front, infeasible
        self._marks_at = float("-inf")

    # -- thread-safe inputs from the UI -----------------------------------------------------
    def set_wanted(self, keys: Iterable[tuple[int, str]]) -> None:
        """Curves (trial id, metric) the UI charts; delivered whole, then as they grow."""
        with self._lock:
            self._wanted = frozenset(keys)

    def set_visible(self, trial_ids: Iterable[int]) -> None:
        """Trials whose rows are on screen (their sparklines are needed)."""
        with self._lock:
            self._visible = frozenset(trial_ids)

    # -- polling ----------------------------------------------------------------------------
    @property
    def store(self) -> RunStore:
        if self._store is None:
            self._store = self._factory(self.run_dir)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def poll(self) -> RunDelta:
        """Read what changed since the last poll; opening a run takes two polls
        (trials with their values; the rows on screen), back to back, and a third for
        every trial's values from a store without summaries."""
        if self._phase == 0:
            return self._open_trials()
        if self._phase == 1:
            return self._open_visible()
        if self._phase == 2:
            return self._open_values()
        return self._update()

    @property
    def pending(self) -> bool:
        """True while opening is not finished (poll again at once)."""
        return self._phase < 3

    def _open_trials(self) -> RunDelta:
        """Trials, tweaks, events and every trial's values, as of one moment: the
        table can show its rows, the header the best trial."""
        store = self.store
        with store.snapshot():  # the summaries count exactly the points up to the last id
            self._last_metric = store.last_metric_id()
            self._last_event = store.last_event_id()
            trials = store.trials()
            self._read_changes()
            events = tuple(store.events(0))
            summaries = store.metric_summaries(self.objective.metric)
        self._trials_seen = max((t.updated_at or 0.0 for t in trials), default=0.0)
        self._records = {t.id: t for t in trials}
        if summaries is not None:
            self._summarized = True
            self._aggs = {s.trial_id: _Agg.of(s, self.objective) for s in summaries}
        self._phase = 1
        self._read_marks(force=True)
        rows = {tid: self._row(tid) for tid in self._records}
        return RunDelta(self._header(), rows, events, {}, None, full=True, opening=True)

    def _open_visible(self) -> RunDelta:
        """Whole curves of the rows on screen, active and charted trials: their
        values and sparklines, read through the index (cheap)."""
        self._names = self._read_names() | {self.objective.metric}
        with self._lock:
            wanted, visible = self._wanted, self._visible
        if not visible:  # the table has not said yet: it opens on the first ids
            visible = frozenset(sorted(self._records)[:OPENING_ROWS])
        fresh = self._track(visible, wanted)
        curves = self._load_wanted(wanted)
        self._phase = 3 if self._summarized else 2
        rows = {tid: self._row(tid) for tid in fresh | set(self._curves)}
        return RunDelta(self._header(), rows, (), curves, tuple(sorted(self._names)),
                        opening=self.pending)

    def _open_values(self) -> RunDelta:
        """Every trial's latest and best objective value, for a store that keeps no
        summaries: one pass over the objective's points (slow on a big run)."""
        for s in self.store.compute_metric_summaries(self.objective.metric,
                                                     self._last_metric):
            if s.trial_id not in self._curves:  # those read whole already have theirs
                self._aggs[s.trial_id] = _Agg.of(s, self.objective)
        self._phase = 3
        rows = {tid: self._row(tid) for tid in self._records}
        return RunDelta(self._header(), rows)

    def _update(self) -> RunDelta:
        store = self.store
        changed: set[int] = set()
        stamps = store.trial_stamps(self._trials_seen - TRIAL_OVERLAP_S)
        stale = [tid for tid, stamp in stamps
                 if tid not in self._records or self._records[tid].updated_at != stamp]
        if stale:
            for t in store.trials_changed_since(min(s for tid, s in stamps if tid in stale)):
                self._trials_seen = max(self._trials_seen, t.updated_at or 0.0)
                if self._records.get(t.id) != t:
                    self._records[t.id] = t
                    changed.add(t.id)
        events = tuple(store.events(self._last_event))
        if events:
            self._last_event = events[-1].id
            if any(e.kind in _TWEAK_EVENTS for e in events):
                changed |= self._read_changes()
        with self._lock:
            wanted, visible = self._wanted, self._visible
        grown, new_names = self._read_points(wanted)
        changed |= {tid for tid, _ in grown}
        changed |= self._track(visible, wanted)
        curves = self._load_wanted(wanted, grown)
        changed |= self._read_marks(force=bool(changed))
        rows = {tid: self._row(tid) for tid in changed if tid in self._records}
        names = tuple(sorted(self._names)) if new_names else None
        return RunDelta(self._header(), rows, events, curves, names)

    # -- pieces -------------------------------------------------------------------------------
    def _read_names(self) -> set[str]:
        """Metric names, from the summaries; without them, from the latest trials (a few
        index seeks each): a name only the oldest of thousands of trials used is missed
        until it is reported again."""
        if self.store.summarized:
            return set(self.store.metric_names())
        return self.store.trial_metric_names(sorted(self._records)[-NAME_TRIALS:])

    def _read_marks(self, force: bool) -> set[int]:
        """With several objectives or constraints, which trials are on the Pareto front
        or infeasible (client/front.py; it reads those metrics whole, so at most every
        MARKS_INTERVAL_S). Returns the trials whose mark changed."""
        from tuitune.client import front

        now = time.monotonic()
        wait = MARKS_MIN_S if force else MARKS_INTERVAL_S  # new points: sooner
        if not front.several(self.spec) or now - self._marks_at < wait:
            return set()
        self._marks_at = now
        fresh = {o.trial.id: front.marks(o) for o in front.outcomes(self.store, self.spec)}
        changed = {tid for tid in set(fresh) | set(self._marks)
                   if fresh.get(tid, "") != self._marks.get(tid, "")}
        self._marks = fresh
        return changed

    def _read_changes(self) -> set[int]:
        by_trial: dict[int, list[Change]] = {}
        for c in self.store.param_changes():
            by_trial.setdefault(c.trial_id, []).append(
                Change(c.name, c.value, c.applied_step, c.actor))
        fresh = {tid: tuple(cs) for tid, cs in by_trial.items()}
        changed = {tid for tid in set(fresh) | set(self._changes)
                   if fresh.get(tid) != self._changes.get(tid)}
        self._changes = fresh
        return changed

    def _read_points(self, wanted: frozenset[tuple[int, str]]
                     ) -> tuple[set[tuple[int, str]], bool]:
        """New metric points: update aggregates and tracked curves. Returns the
        (trial, metric) pairs that grew and whether a new metric name appeared."""
        points = self.store.new_points(self._last_metric, MAX_POINTS_PER_POLL)
        grown: set[tuple[int, str]] = set()
        new_name = False
        metric = self.objective.metric
        objective_points: dict[int, list[tuple[int, float]]] = {}
        for point_id, tid, step, name, value in points:
            self._last_metric = point_id
            if name not in self._names:
                self._names.add(name)
                new_name = True
            key = (tid, name)
            if name == metric:
                objective_points.setdefault(tid, []).append((step, value))
                grown.add(key)
            else:
                agg = self._aggs.setdefault(tid, _Agg())
                if agg.step is None or step > agg.step:
                    agg.step = step
                    grown.add(key)
            series = self._extra.get(key)
            if series is not None:
                series.add(step, value)
                grown.add(key)
        for tid, pts in objective_points.items():
            self._add_objective(tid, pts)
        return grown, new_name

    def _add_objective(self, tid: int, points: list[tuple[int, float]]) -> None:
        agg = self._aggs.setdefault(tid, _Agg())
        series = self._curves.get(tid)
        for step, value in points:
            agg.n += 1
            if agg.step is None or step >= agg.step:
                agg.step, agg.latest = step, value
            if math.isfinite(value) and (agg.best is None
                                         or self.objective.better(value, agg.best)):
                agg.best = value
            if series is not None:
                series.add(step, value)
        if series is not None:
            self._sparks[tid] = _spark(series.values)  # once per poll, not per point
        else:
            self._sparks.pop(tid, None)  # stale: read again when it is on screen

    def _track(self, visible: frozenset[int], wanted: frozenset[tuple[int, str]]) -> set[int]:
        """Load objective curves of trials that need one; drop the others. Returns
        trials whose sparkline became known."""
        need = {tid for tid, t in self._records.items() if t.state in ACTIVE_STATES}
        need |= {tid for tid in visible if tid in self._records}
        need |= {tid for tid, name in wanted if name == self.objective.metric}
        for tid in [t for t in self._curves if t not in need]:
            del self._curves[tid]
        fresh: set[int] = set()
        for tid in need - set(self._curves):
            series = self._read_curve(tid, self.objective.metric)
            self._curves[tid] = series
            if tid not in self._aggs:  # opening: the curve gives the values too
                self._aggs[tid] = _aggregate(series, self.objective)
            spark = _spark(series.values)
            if self._sparks.get(tid) != spark:
                self._sparks[tid] = spark
                fresh.add(tid)
        return fresh

    def _load_wanted(self, wanted: frozenset[tuple[int, str]],
                     grown: set[tuple[int, str]] | None = None) -> dict[tuple[int, str], Curve]:
        """Wanted curves: whole when new, again whenever they grew."""
        metric = self.objective.metric
        for key in [k for k in self._extra if k not in wanted]:
            del self._extra[key]
        out: dict[tuple[int, str], Curve] = {}
        for key in wanted:
            tid, name = key
            if tid not in self._records:
                continue
            if name == metric:
                series = self._curves.get(tid)
                fresh = False
            else:
                series = self._extra.get(key)
                fresh = series is None
                if series is None:
                    series = self._extra[key] = self._read_curve(tid, name)
            if series is None:
                continue
            if grown is None or fresh or key in grown or key not in self._sent:
                out[key] = series.freeze(tid, name)
        self._sent = set(wanted)
        return out

    def _read_curve(self, tid: int, name: str) -> _Series:
        """Up to the last point read, so the next poll's points are not counted twice."""
        points = self.store.curve(tid, name, up_to_id=self._last_metric)
        return _Series(*zip(*points, strict=True)) if points else _Series()

    def _row(self, tid: int) -> TrialRow:
        t = self._records[tid]
        agg = self._aggs.get(tid) or _Agg()
        changes = self._changes.get(tid, ())
        return TrialRow.of(
            t, current=current_params(t.params, changes), changes=changes, step=agg.step,
            latest=agg.latest, best=agg.best, n_points=agg.n, spark=self._sparks.get(tid),
            mark=self._marks.get(tid, ""))

    def _supervisor_alive(self, meta: Mapping[str, Any]) -> bool:
        """Whether the recorded supervisor process lives: checked every few seconds
        (the process table is the cost), and at once when the record changes."""
        ident = (meta.get("supervisor_pid"), meta.get("supervisor_start"))
        now = time.monotonic()
        if ident != self._sup_ident or now - self._sup_checked > SUPERVISOR_CHECK_S:
            self._sup_ident, self._sup_checked = ident, now
            self._sup_alive = _process_alive(*ident)
        return self._sup_alive

    def _header(self) -> RunHeader:
        store = self.store
        meta = store.meta(HEADER_META)
        counts: dict[str, int] = {}
        used = 0
        for t in self._records.values():
            counts[t.state] = counts.get(t.state, 0) + 1
            used += t.origin != "pbt"  # the engine's budget does not count PBT replacements
        best, best_trial = None, None
        for tid, agg in self._aggs.items():
            if agg.best is not None and (best is None or self.objective.better(agg.best, best)):
                best, best_trial = agg.best, tid
        budget = self.spec.budget
        return RunHeader(
            name=str(meta.get("name", self.spec.name)),
            strategy=str(meta.get("strategy", self.spec.search.strategy)),
            objective=self.objective,
            max_trials=meta.get("max_trials", budget.max_trials),
            max_concurrent=int(meta.get("max_concurrent", budget.max_concurrent) or 1),
            max_steps=budget.max_steps,
            experiment_timeout=budget.experiment_timeout,
            budget_used=used,
            counts=counts,
            started_at=meta.get("started_at"),
            ended_at=None if meta.get("state") not in ("finished",) else meta.get("heartbeat"),
            best=best,
            best_trial=best_trial,
            supervisor_alive=self._supervisor_alive(meta),
            run_state=str(meta.get("state", "?")),
            finished_reason=meta.get("finished_reason"),
        )


def _process_alive(pid: object, start: object) -> bool:
    return bool(pid and start and process_matches(int(pid), float(start)))  # type: ignore[arg-type]


def _aggregate(series: _Series, objective: Objective) -> _Agg:
    finite = [v for v in series.values if math.isfinite(v)]
    best = objective.best(finite) if finite else None
    if not series.steps:
        return _Agg()
    return _Agg(len(series.steps), series.steps[-1], series.values[-1], best)


def _spark(values: list[float]) -> tuple[float, ...]:
    return tuple(buckets(values, SPARK_CELLS))
