"""The commands front ends may send, and their validation.

Front ends (CLI, TUI) validate a command before enqueueing it, so bad input gets
an immediate one-line error and changes nothing; the supervisor validates again
when it executes it, against the state at that moment.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from tuitune.engine.refusals import refusal
from tuitune.core.space import SpaceError
from tuitune.core.spec import Spec
from tuitune.store import RunStore, TrialRecord

KINDS = ("new", "kill", "pause", "resume", "clone", "tweak", "note", "star", "protect",
         "handoff", "requeue", "stop", "space", "budget")


class CommandError(ValueError):
    """A command cannot be carried out; str() is one line for the user."""


def _trial(store: RunStore, args: Mapping[str, Any]) -> TrialRecord:
    trial_id = args.get("trial_id")
    if not isinstance(trial_id, int) or isinstance(trial_id, bool):
        raise CommandError(f"expected a trial id (an integer), got {trial_id!r}")
    trial = store.trial(trial_id)
    if trial is None:
        raise CommandError(f"no trial {trial_id} in this run")
    return trial


def _space_error(exc: SpaceError) -> CommandError:
    return CommandError(str(exc))


def validate(kind: str, args: Mapping[str, Any], spec: Spec, store: RunStore) -> dict[str, Any]:
    """Return normalised arguments or raise CommandError."""
    if kind not in KINDS:
        raise CommandError(f"unknown command {kind!r}")
    check = _VALIDATORS.get(kind)
    return check(dict(args), spec, store) if check else dict(args)


def _new(args: dict[str, Any], spec: Spec, store: RunStore) -> dict[str, Any]:
    try:
        given = spec.space.validate(args.get("params", {}), partial=True)
    except SpaceError as exc:
        raise _space_error(exc) from None
    params = {**spec.space.defaults(), **given}
    _refuse_inactive(spec, params, given)
    return {"params": spec.space.complete(params)}


def _refuse_inactive(spec: Spec, params: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """A value given for a parameter its condition leaves out would be dropped
    silently: say so instead."""
    for name in spec.space.inactive_given(params):
        if name in given:
            raise CommandError(f"{name} exists only when {spec.space[name].when}, which "
                               f"does not hold here; leave {name} out or change "
                               f"{', '.join(spec.space[name].when.names)}")  # type: ignore[union-attr]


def _refuse(kind: str, trial: TrialRecord, spec: Spec, store: RunStore,
            from_checkpoint: bool = False) -> None:
    """The state rules live in refusals.py (the TUI asks them before any dialog)."""
    reason = refusal(kind, trial, spec, store, from_checkpoint=from_checkpoint)
    if reason:
        raise CommandError(reason)


def _signal_target(kind: str):
    def check(args: dict[str, Any], spec: Spec, store: RunStore) -> dict[str, Any]:
        trial = _trial(store, args)
        _refuse(kind, trial, spec, store)
        return {"trial_id": trial.id}
    return check


def _clone(args: dict[str, Any], spec: Spec, store: RunStore) -> dict[str, Any]:
    trial = _trial(store, args)
    from_checkpoint = bool(args.get("from_checkpoint", False))
    _refuse("clone", trial, spec, store, from_checkpoint)
    try:
        changes = spec.space.validate(args.get("set", {}), partial=True)
    except SpaceError as exc:
        raise _space_error(exc) from None
    _refuse_inactive(spec, {**store.current_params(trial), **changes}, changes)
    return {"trial_id": trial.id, "set": changes, "from_checkpoint": from_checkpoint}


def check_tweak_names(spec: Spec, trial_id: int, names: list[str]) -> None:
    """Only mutable parameters of the space may be tweaked."""
    if not names:
        raise CommandError("nothing to tweak: give name=value pairs")
    for name in names:
        if name not in spec.space:
            raise CommandError(f"unknown parameter {name!r}; the space has "
                               f"{', '.join(spec.space.names)}")
        if not spec.space[name].mutable:
            raise CommandError(
                f"{name} is not mutable, so it cannot change while trial {trial_id} runs; "
                f"clone the trial with {name} changed instead (tuitune clone RUN {trial_id} "
                f"--set {name}=...)"
            )


def _tweak(args: dict[str, Any], spec: Spec, store: RunStore) -> dict[str, Any]:
    trial = _trial(store, args)
    _refuse("tweak", trial, spec, store)  # the state first: no value can help then
    changes = args.get("set", {})
    check_tweak_names(spec, trial.id, list(changes))
    try:
        changes = spec.space.validate(changes, partial=True)
    except SpaceError as exc:
        raise _space_error(exc) from None
    _refuse_inactive(spec, {**store.current_params(trial), **changes}, changes)
    return {"trial_id": trial.id, "set": changes}


def _note(args: dict[str, Any], spec: Spec, store: RunStore) -> dict[str, Any]:
    trial = _trial(store, args)
    text = args.get("text", "")
    if not isinstance(text, str):
        raise CommandError("a note is text")
    return {"trial_id": trial.id, "text": text.strip()}


def _flag(args: dict[str, Any], spec: Spec, store: RunStore) -> dict[str, Any]:
    trial = _trial(store, args)
    return {"trial_id": trial.id, "value": bool(args.get("value", True))}


def _handoff(args: dict[str, Any], spec: Spec, store: RunStore) -> dict[str, Any]:
    from tuitune.core.strategies import available_strategies, build_searcher

    strategy = args.get("strategy")
    if strategy not in available_strategies():
        raise CommandError(f"unknown strategy {strategy!r} (expected one of: "
                           f"{', '.join(available_strategies())})")
    options = dict(args.get("options") or {})
    try:
        build_searcher(strategy, spec.space, spec.search.seed, spec.objective, options)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    from tuitune.engine.budget_edit import BudgetError, normalise

    try:
        trials = normalise({k: args.get(k) for k in ("more", "max_trials", "max_concurrent")},
                           required=False)
    except BudgetError as exc:
        raise CommandError(str(exc)) from None
    out: dict[str, Any] = {"strategy": strategy, "options": options, **trials}
    _check_budget(out, store)
    return out


def budget_used(store: RunStore) -> int:
    """Trials that count against the run's budget (PBT's replacements do not)."""
    return store.count_trials(exclude_origin="pbt")


def _check_budget(args: dict[str, Any], store: RunStore) -> None:
    """`more` is N trials from now; `max_trials` a total, so it must exceed what has run."""
    used = budget_used(store)
    if args.get("max_trials") is not None and args["max_trials"] <= used:
        raise CommandError(f"a total of {args['max_trials']} trials is not above the {used} "
                           f"this run has had; use --more N for N more trials")


def _requeue(args: dict[str, Any], spec: Spec, store: RunStore) -> dict[str, Any]:
    trial = _trial(store, args)
    _refuse("requeue", trial, spec, store)
    return {"trial_id": trial.id}


def _space(args: dict[str, Any], spec: Spec, store: RunStore) -> dict[str, Any]:
    from tuitune.engine.space_edit import SpaceEditError, plan_edit

    try:
        plan_edit(spec, store.meta(), args)
    except SpaceEditError as exc:
        raise CommandError(str(exc)) from None
    out = {k: args[k] for k in ("ranges", "choices", "add_choices", "drop_choices", "fix",
                                "free", "log", "undo") if args.get(k)}
    # A token names the edit, so a supervisor that crashed after applying it but
    # before answering does not apply it again when it takes the command anew.
    out["token"] = str(args.get("token") or uuid.uuid4().hex)
    return out


def _budget(args: dict[str, Any], spec: Spec, store: RunStore) -> dict[str, Any]:
    import time

    from tuitune.engine.budget_edit import BudgetError, check_not_below, normalise

    try:
        out = normalise(args)
        now = time.time()
        started = store.meta(["started_at"]).get("started_at")
        running = [(t.id, now - t.started_at) for t in store.trials(["running", "paused"])
                   if t.started_at]
        check_not_below(out, budget_used(store), now - started if started else None,
                        max(running, key=lambda r: r[1]) if running else None)
    except BudgetError as exc:
        raise CommandError(str(exc)) from None
    return out


_VALIDATORS = {
    "new": _new,
    "kill": _signal_target("kill"),
    "pause": _signal_target("pause"),
    "resume": _signal_target("resume"),
    "clone": _clone,
    "tweak": _tweak,
    "note": _note,
    "star": _flag,
    "protect": _flag,
    "handoff": _handoff,
    "requeue": _requeue,
    "space": _space,
    "budget": _budget,
}
