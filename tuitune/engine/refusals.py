"""Why the engine would refuse a command on a trial, said in the terms of its state.

The one home of these rules: the command validators (engine/commands.py, so the CLI
and the supervisor) raise them, and the TUI asks them *before* it asks anything
else, so `k` on a completed trial says why at once instead of opening "Kill trial
1?" and refusing after `y`, and `[` on it names its state, not the learning rate's
range. Checks of the values a command carries stay with the validators.
"""

from __future__ import annotations

from tuitune.core.history import ACTIVE_STATES, COMPLETED, LIVE_STATES, PAUSED, QUEUED, RUNNING
from tuitune.core.spec import Spec
from tuitune.store import RunStore, TrialRecord


def refusal(kind: str, trial: TrialRecord, spec: Spec, store: RunStore, *,
            from_checkpoint: bool = False) -> str | None:
    """The one-line reason `kind` cannot act on `trial` as it is now, or None."""
    state, tid = trial.state, trial.id
    ended = f"trial {tid} is {state}: it has ended"
    if kind == "kill" and state not in ACTIVE_STATES:
        return f"{ended}, there is nothing to kill"
    if kind == "pause" and state != RUNNING:
        return {PAUSED: f"trial {tid} is paused already",
                QUEUED: f"trial {tid} is queued: it has not started, there is nothing to "
                        "pause"}.get(state, f"{ended}, there is nothing to pause")
    if kind == "resume" and state != PAUSED:
        return {RUNNING: f"trial {tid} is running: it is not paused",
                QUEUED: f"trial {tid} is queued: it starts by itself when a slot is free"
                }.get(state, f"{ended}, there is nothing to resume")
    if kind == "tweak" and state not in LIVE_STATES:
        if state == QUEUED:
            return (f"trial {tid} is queued: a tweak applies to a running trial; clone it "
                    "with the new values instead")
        return f"{ended}, so a change could never apply; clone it with the new values instead"
    if kind == "requeue" and state in ACTIVE_STATES:
        return f"trial {tid} is {state}: only a trial that has ended can be requeued"
    if kind == "clone" and from_checkpoint:
        return _checkpoint_refusal(trial, spec, store)
    return None


def _checkpoint_refusal(trial: TrialRecord, spec: Spec, store: RunStore) -> str | None:
    if not trial.checkpoint or trial.checkpoint_step is None:
        return f"trial {trial.id} has saved no checkpoint yet; clone it from scratch instead"
    step = trial.checkpoint_step
    ends: list[int | None] = [spec.budget.max_steps] if spec.budget.max_steps else []
    if trial.state == COMPLETED:  # it ran to its own end: the last step it reported
        ends.append(last_step(store, trial.id, spec.objective.metric))
    end = min((e for e in ends if e is not None), default=None)
    if end is not None and step >= end:
        # A clone resumed there has no step left to run: it would take a budget slot and
        # end at once, having reported nothing.
        return (f"trial {trial.id}'s checkpoint is from step {step} of {end}, where it ended: "
                "a clone from it would have nothing left to train; clone it from scratch "
                "instead")
    return None


def last_step(store: RunStore, trial_id: int, metric: str) -> int | None:
    """The highest step the trial reported its objective at (None if it never did)."""
    summaries = store.metric_summaries(metric)
    if summaries is not None:
        return next((s.last_step for s in summaries if s.trial_id == trial_id), None)
    curve = store.curve(trial_id, metric)
    return curve[-1][0] if curve else None
