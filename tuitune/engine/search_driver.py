"""The search and budget driver, the supervisor's part that decides which trials to run.

It owns the run's search: the strategy and its options, the budget (max trials, at most
how many at once), the current search space revision, the searcher, the stopping rules
and the objective curves they read. It asks the searcher for new trials while the budget
allows, and turns the rules' decisions into ends and clones through the trial lifecycle.
`hand_off` and `edit_space` are what the `handoff` and `space` commands do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from tuitune.core.decisions import Exhausted, Exploit, Stop, Suggest, Wait
from tuitune.core.history import DIVERGED, PRUNED, QUEUED, History
from tuitune.core.spec import Spec
from tuitune.core.strategies import MANUAL, build_rules, build_searcher
from tuitune.engine.boundary import ErrorBoundary
from tuitune.engine.budget_edit import KEYS as BUDGET_KEYS
from tuitune.engine.budget_edit import apply as apply_budget
from tuitune.engine.budget_edit import current_budget
from tuitune.engine.commands import budget_used
from tuitune.engine.notices import Notices
from tuitune.engine.rules_edit import META_KEY as RULES_KEY
from tuitune.engine.rules_edit import RuleConfig, current_rules, describe, normalise_rules
from tuitune.engine.snapshot import (
    ExtraMetrics,
    ObjectiveCurves,
    build_history,
    extra_metric_names,
)
from tuitune.engine.space_edit import (
    META_KEY,
    current_revision,
    current_space,
    outside,
    plan_edit,
    revisions,
    space_from_table,
)
from tuitune.engine.trial_lifecycle import TrialLifecycle
from tuitune.engine.warm_start import META_KEY as WARM_START
from tuitune.engine.warm_start import with_imports
from tuitune.store import RunStore

DECIDE_INTERVAL = 0.5  # seconds between rounds of the stopping rules
#: Why a run ends: its trial budget is spent; or, revived by a hand action after that
#: and given more budget, it is in manual mode with nothing left to run.
BUDGET_USED = "budget used"
MANUAL_IDLE = "manual mode, idle"


class SearchDriver:
    def __init__(self, store: RunStore, spec: Spec, trials: TrialLifecycle,
                 curves: ObjectiveCurves, boundary: ErrorBoundary, notices: Notices,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.spec, self.trials = store, spec, trials
        self.boundary, self.notices, self.clock = boundary, notices, clock
        meta = store.meta()
        self.strategy: str = meta.get("strategy", spec.search.strategy)
        self.search_options: dict[str, Any] = meta.get("search_options", {})
        budget = current_budget(spec, meta)  # the spec's, changed by hand-offs and `budget`
        self.max_trials: int | None = budget["max_trials"]
        self.max_concurrent: int = budget["max_concurrent"]
        self.trial_timeout: float | None = budget["trial_timeout"]
        self.experiment_timeout: float | None = budget["experiment_timeout"]
        self._warm_start = meta.get(WARM_START)
        self.space = current_space(spec, meta)  # the latest space revision
        self.build_searcher()
        self.rule_config = current_rules(spec, meta)  # the spec's, or a hand-off's
        self.rules = self._build_rules(self.rule_config)
        self.curves = curves  # updated here; the trial lifecycle reads it
        self.extra_metrics = ExtraMetrics(extra_metric_names(spec.all_objectives,
                                                             spec.constraints))
        self.exhausted: str | None = None
        self._last_decide = 0.0
        self._checked_points: dict[int, int] = {}  # per trial: objective points checked

    def build_searcher(self) -> None:
        # Each space revision reseeds, so a random search does not replay its draws.
        seed = self.spec.search.seed + current_revision(self.store.meta([META_KEY]))
        self.searcher = build_searcher(self.strategy, self.space, seed, self.spec.all_objectives,
                                       self.search_options)

    def _build_rules(self, config: RuleConfig) -> list:
        return build_rules(config, self.spec.space, self.spec.budget.max_steps,
                           self.spec.search.seed)

    def history(self) -> History:
        self.extra_metrics.update(self.store)
        return build_history(self.store, self.spec.objective, self.curves, self.clock(),
                             self.spec.budget.max_steps, self.spec.all_objectives,
                             self.spec.constraints, self.extra_metrics)

    # -- the budget ---------------------------------------------------------------------------
    def budget_left(self) -> int | None:
        if self.max_trials is None:
            return None
        return self.max_trials - budget_used(self.store)

    def done_reason(self) -> str | None:
        """Why the search would add no trial: its budget is used, or it is exhausted."""
        left = self.budget_left()
        return BUDGET_USED if left is not None and left <= 0 else self.exhausted

    # -- asking the searcher --------------------------------------------------------------------
    def fill(self, may_fill: bool) -> None:
        """Queue the searcher's suggestions for the free slots the budget allows."""
        if self.searcher is None or self.exhausted or not may_fill or self.trials.stopping:
            return
        queued = self.store.count_trials([QUEUED])
        free = self.max_concurrent - self.trials.running_count() - queued
        left = self.budget_left()
        if free <= 0 or (left is not None and left <= 0):
            return
        # Trials imported from earlier runs (--warm-start) are observations, not trials.
        self.searcher.sync(with_imports(self.history(), self._warm_start))
        for _ in range(free if left is None else min(free, left)):
            decision = self.searcher.ask()
            if isinstance(decision, Wait):
                # Asked again next tick; a finished trial lets it go on. Said once per
                # reason, so a slot left empty (e.g. behind a paused trial) is explained.
                self.notices.say_once(f"search-wait-{decision.reason}",
                                      f"search waits: {decision.reason}")
                return
            if isinstance(decision, Exhausted):
                self.exhausted = decision.reason
                self.store.add_event("exhausted", "search", f"search done: {decision.reason}")
                return
            assert isinstance(decision, Suggest)
            self.store.create_trial(dict(decision.params), decision.origin, "search",
                                    message=f"trial {{id}} suggested by {decision.origin}"
                                            + (f": {decision.reason}" if decision.reason else ""))

    # -- stopping rules -------------------------------------------------------------------------
    def decide(self, now: float) -> None:
        touched = self.curves.update(self.store)
        if touched or now - self._last_decide > DECIDE_INTERVAL * 4:
            self._check_nonfinite(touched)
            if now - self._last_decide >= DECIDE_INTERVAL:
                self._last_decide = now
                self._apply_rules()

    def _check_nonfinite(self, touched: set[int]) -> None:
        """NaN or inf in the objective means the trial diverged: stop it at once."""
        for tid in touched:
            curve = self.curves.curves.get(tid)
            # Every point read since the last look, not only the last one: a NaN followed
            # by a finite value in the same batch of reports is a divergence too.
            seen, self._checked_points[tid] = self._checked_points.get(tid, 0), len(curve or ())
            bad = next(((s, v) for s, v in (curve or [])[seen:] if not math.isfinite(v)), None)
            if bad is None or tid not in self.trials.handles:
                continue
            trial = self.store.trial(tid)
            if trial is None or trial.protected:
                continue
            step, value = bad
            self.trials.plan_end(tid, DIVERGED, "engine",
                                 f"trial {tid} diverged: {self.spec.objective.metric} = "
                                 f"{value} at step {step}", {"step": step, "value": str(value)})

    def _apply_rules(self) -> None:
        if not self.rules or not self.trials.handles:
            return
        history = self.history()
        for rule in self.rules:
            for decision in rule.decide(history):
                with self.boundary.guard(f"acting on {rule.__class__.__name__}'s decision"):
                    self._act(decision, history)

    def _act(self, decision: Stop | Exploit, history: History) -> None:
        plans = self.trials.plans
        if isinstance(decision, Stop):
            view = history.get(decision.trial_id)
            if view is None or view.protected or decision.trial_id in plans:
                return
            self.trials.plan_end(decision.trial_id, decision.state,
                                 f"stopping rule {decision.rule}",
                                 f"trial {decision.trial_id} {decision.state}: {decision.reason}",
                                 dict(decision.details))
        elif isinstance(decision, Exploit):
            target = history.get(decision.target_id)
            if target is None or target.protected or decision.target_id in plans:
                return
            self.trials.plan_end(decision.target_id, PRUNED, "pbt",
                                 f"trial {decision.target_id} replaced: {decision.reason}",
                                 {"source": decision.source_id})
            params = self.spec.space.validate(dict(decision.params), partial=True)
            self.trials.clone(decision.source_id, params, True, "pbt", origin="pbt")

    # -- what commands change -------------------------------------------------------------------
    def change_budget(self, args: Mapping[str, Any], actor: str) -> str:
        before = {k: getattr(self, k) for k in BUDGET_KEYS}
        new, line = apply_budget(before, args, budget_used(self.store))
        # Recorded first: a supervisor that starts over reads the budget from the meta.
        self.store.set_meta(**new)
        for key, value in new.items():
            setattr(self, key, value)
        self.store.add_event("budget", actor, line, data={"before": before, "after": new})
        return line

    def outside_space(self, trial_id: int, params: Mapping[str, Any], actor: str) -> str:
        """Hand actions may leave the edited space on purpose: allowed, but said."""
        off = outside(self.space, params)
        if not off:
            return ""
        line = (f"warning: trial {trial_id} lies outside the search space (revision "
                f"{current_revision(self.store.meta())}): {'; '.join(off)}")
        self.store.add_event("outside_space", actor, line, trial_id=trial_id,
                             data={"outside": off})
        return f"\n{line}"

    def hand_off(self, args: Mapping[str, Any], actor: str) -> str:
        self.strategy, self.search_options = args["strategy"], args["options"]
        if "more" in args:  # counted when carried out: "from now"
            self.max_trials = budget_used(self.store) + args["more"]
        self.max_trials = args.get("max_trials", self.max_trials)
        self.max_concurrent = args.get("max_concurrent", self.max_concurrent)
        self.build_searcher()
        self.exhausted = None
        rules = {}
        if "rules" in args:
            config = normalise_rules(args["rules"])
            # The same rules keep their state (ASHA's rungs, what predict judged).
            if config != self.rule_config:
                self.rules, self.rule_config = self._build_rules(config), config
            rules = {RULES_KEY: [[n, o] for n, o in config]}
        self.store.set_meta(strategy=self.strategy, search_options=self.search_options,
                            max_trials=self.max_trials, max_concurrent=self.max_concurrent,
                            **rules)
        what = "manual mode: no new suggestions" if self.strategy == MANUAL else (
            f"handed off to {self.strategy} search")
        if rules:
            what += f"; stopping rules: {describe(self.rule_config)}"
        self.store.add_event("handoff", actor, f"{what} (max trials {self.max_trials}, "
                             f"{self.max_concurrent} at a time)", data=dict(args))
        return what

    def edit_space(self, args: Mapping[str, Any], actor: str) -> str:
        meta = self.store.meta()
        done = next((r for r in revisions(meta) if r.get("token") == args["token"]), None)
        if done is not None:  # taken before a crash, answered now: never applied twice
            return f"space revision {done['n']}: {done['change']}"
        revision = {**plan_edit(self.spec, meta, args), "actor": actor, "t": self.clock(),
                    "token": args["token"]}
        self.space = space_from_table(self.spec, revision["space"])
        # Recorded before the searcher changes: a crash in between rebuilds it from here.
        self.store.set_meta(**{META_KEY: [*revisions(meta), revision]})
        self.build_searcher()
        self.exhausted = None  # a wider space may have more to suggest
        line = f"space revision {revision['n']}: {revision['change']}"
        self.store.add_event("space", actor, line, data={"revision": revision["n"],
                                                         "change": revision["change"]})
        return line
