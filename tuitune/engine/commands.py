"""Every command kind, declared once: its arguments, validation, handler, CLI form, keys.

Front ends (CLI, TUI) validate a command before enqueueing it, so bad input gets an
immediate one-line error and changes nothing; the supervisor validates again when it
executes it, against the state at that moment, then calls the kind's handler. The CLI's
subcommands (cli.py), its handlers (cli_commands.py), the supervisor's dispatch
(engine/command_desk.py) and the TUI's hand-action keys (ui/screens/hand_actions.py, and
through them the command palette) are all derived from `COMMAND_KINDS` below.

Adding a kind: docs/architecture.md, "Adding a command kind".
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

from tuitune.engine.command_kind import (
    CliForm,
    CommandError,
    CommandKind,
    Engine,
    RunView,
    TuiKey,
    add_trial_id,
    non_negative_int,
    positive_int,
    trial_id_arg,
)
from tuitune.engine.budget_edit import BudgetError, check_not_below, normalise
from tuitune.engine.refusals import refusal
from tuitune.engine.rules_edit import normalise_rules, parse_rule_options, with_options
from tuitune.engine.space_edit import (
    SpaceEditError,
    current_space,
    parse_choices,
    parse_range,
    plan_edit,
)
from tuitune.core.history import LOST, PAUSED, RUNNING, describe_params
# Messages and events are read by people: numbers by the one rule (0.005, not
# 0.005000000000000001); the exact values are in the events' data, `export` and `--json`.
from tuitune.core.numfmt import value as shown
from tuitune.core.space import SpaceError, parse_options
from tuitune.core.spec import Spec
from tuitune.store import RunStore, TrialRecord

__all__ = ["COMMAND_KINDS", "BY_NAME", "CommandError", "validate", "check_tweak_names",
           "budget_used"]


# -- shared checks ---------------------------------------------------------------------------
def _trial(store: RunStore, args: Mapping[str, Any]) -> TrialRecord:
    trial_id = args.get("trial_id")
    if not isinstance(trial_id, int) or isinstance(trial_id, bool):
        raise CommandError(f"expected a trial id (an integer), got {trial_id!r}")
    trial = store.trial(trial_id)
    if trial is None:
        raise CommandError(f"no trial {trial_id} in this run")
    return trial


def _refuse(kind: str, trial: TrialRecord, spec: Spec, store: RunStore,
            from_checkpoint: bool = False) -> None:
    """The state rules live in refusals.py (the TUI asks them before any dialog)."""
    reason = refusal(kind, trial, spec, store, from_checkpoint=from_checkpoint)
    if reason:
        raise CommandError(reason)


def _validated(spec: Spec, values: Any) -> dict[str, Any]:
    try:
        return spec.space.validate(values, partial=True)
    except SpaceError as exc:
        raise CommandError(str(exc)) from None


def _assignments(view: RunView, items: list[str]) -> dict[str, Any]:
    try:
        return view.spec.space.parse_assignments(items)
    except SpaceError as exc:
        raise CommandError(str(exc)) from None


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


def budget_used(store: RunStore) -> int:
    """Trials that count against the run's budget (PBT's replacements do not)."""
    return store.count_trials(exclude_origin="pbt")


def _one_trial(args: argparse.Namespace, view: RunView) -> list[dict[str, Any]]:
    return [{"trial_id": args.id}]


# -- new ---------------------------------------------------------------------------------------
class NewArgs(TypedDict):
    params: dict[str, Any]


def _validate_new(args: dict[str, Any], spec: Spec, store: RunStore) -> NewArgs:
    given = _validated(spec, args.get("params", {}))
    # What is not given comes from the space in effect (a parameter fixed by `tuitune
    # space` at its fixed value): only what is set on purpose leaves it, with a warning.
    params = {**current_space(spec, store.meta()).defaults(), **given}
    _refuse_inactive(spec, params, given)
    # Conditional parameters: only those whose conditions hold (spec.md).
    return {"params": spec.space.complete(params)}


def _refuse_inactive(spec: Spec, params: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """A value given for a parameter its condition leaves out would be dropped
    silently: say so instead."""
    for name in spec.space.inactive_given(params):
        when = spec.space[name].when
        if name in given and when is not None:
            raise CommandError(f"{name} exists only when {when}, which does not hold here; "
                               f"leave {name} out or change {', '.join(when.names)}")


def _handle_new(engine: Engine, args: NewArgs, actor: str) -> str:
    trial_id = engine.store.create_trial(args["params"], "manual", actor)
    return (f"trial {trial_id} queued: {describe_params(args['params'], value=shown)}"
            + engine.search.outside_space(trial_id, args["params"], actor))


def _new_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("assignments", nargs="*", metavar="NAME=VALUE",
                    help="a parameter's value (the others take their defaults)")


NEW = CommandKind(
    "new", _validate_new, _handle_new,
    CliForm("new", "Start a trial by hand; unnamed parameters take their defaults.",
            "tuitune new quickstart lr=0.1 units=64", _new_arguments,
            lambda a, view: [{"params": _assignments(view, a.assignments)}]),
    (TuiKey("n", "new_trial", "New", "New trial: a form prefilled from the selection"),),
)


# -- trial signals: kill, pause, resume --------------------------------------------------------
class TrialArgs(TypedDict):
    trial_id: int


def _signal_target(kind: str) -> Callable[[dict[str, Any], Spec, RunStore], TrialArgs]:
    def check(args: dict[str, Any], spec: Spec, store: RunStore) -> TrialArgs:
        trial = _trial(store, args)
        _refuse(kind, trial, spec, store)
        return {"trial_id": trial.id}
    return check


def _handle_kill(engine: Engine, args: TrialArgs, actor: str) -> str:
    tid = args["trial_id"]
    engine.trials.kill(tid, actor, f"trial {tid} killed",
                       queued_message=f"trial {tid} killed before it started")
    return f"killing trial {tid}"


def _kill_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("ids", type=trial_id_arg, nargs="+", metavar="ID",
                    help="trials to kill (all are checked before any is killed)")


KILL = CommandKind(
    "kill", _signal_target("kill"), _handle_kill,
    CliForm("kill", "Kill trials (SIGTERM to the process group, SIGKILL after a grace period).",
            "tuitune kill quickstart 3 4", _kill_arguments,
            lambda a, view: [{"trial_id": t} for t in a.ids]),
    (TuiKey("k", "kill", "Kill", "Kill the selected trial (asks first)"),),
)


def _handle_pause(engine: Engine, args: TrialArgs, actor: str) -> str:
    engine.trials.pause(args["trial_id"], actor)
    return f"trial {args['trial_id']} paused"


PAUSE = CommandKind(
    "pause", _signal_target("pause"), _handle_pause,
    CliForm("pause", "Pause a running trial (SIGSTOP to its process group).",
            "tuitune pause quickstart 3", lambda sp: add_trial_id(sp, "the trial to pause"),
            _one_trial),
    # One key for both: `p` pauses a running trial and resumes a paused one.
    (TuiKey("p", "pause", "Pause", "Pause or resume the selected trial"),),
)


def _handle_resume(engine: Engine, args: TrialArgs, actor: str) -> str:
    engine.trials.unpause(args["trial_id"], actor)
    return f"trial {args['trial_id']} resumed"


RESUME = CommandKind(
    # `tuitune resume RUN` restarts a run's supervisor, so the CLI says `unpause`.
    "resume", _signal_target("resume"), _handle_resume,
    CliForm("unpause", "Resume a paused trial (SIGCONT).", "tuitune unpause quickstart 3",
            lambda sp: add_trial_id(sp, "the paused trial"), _one_trial),
)


# -- clone and requeue -------------------------------------------------------------------------
class CloneArgs(TypedDict):
    trial_id: int
    set: dict[str, Any]
    from_checkpoint: bool


def _validate_clone(args: dict[str, Any], spec: Spec, store: RunStore) -> CloneArgs:
    trial = _trial(store, args)
    from_checkpoint = bool(args.get("from_checkpoint", False))
    _refuse("clone", trial, spec, store, from_checkpoint)
    changes = _validated(spec, args.get("set", {}))
    _refuse_inactive(spec, {**store.current_params(trial), **changes}, changes)
    return {"trial_id": trial.id, "set": changes, "from_checkpoint": from_checkpoint}


def _handle_clone(engine: Engine, args: CloneArgs, actor: str) -> str:
    new_id, line = engine.trials.clone(args["trial_id"], args["set"], args["from_checkpoint"],
                                       actor)
    return line + engine.search.outside_space(new_id, args["set"], actor)


def _clone_arguments(sp: argparse.ArgumentParser) -> None:
    add_trial_id(sp, "the trial to copy")
    sp.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="change a parameter (repeatable)")
    sp.add_argument("--from-checkpoint", action="store_true",
                    help="start from the source trial's latest checkpoint, not from scratch")


CLONE = CommandKind(
    "clone", _validate_clone, _handle_clone,
    CliForm("clone", "Start a new trial with a trial's parameters, optionally changed.",
            "tuitune clone quickstart 3 --set lr=0.01 --from-checkpoint", _clone_arguments,
            lambda a, view: [{"trial_id": a.id, "set": _assignments(view, a.set),
                              "from_checkpoint": a.from_checkpoint}]),
    (TuiKey("c", "clone", "Clone",
            "Clone the trial, from scratch or its latest checkpoint; edit parameters"),),
)


def _validate_requeue(args: dict[str, Any], spec: Spec, store: RunStore) -> TrialArgs:
    trial = _trial(store, args)
    _refuse("requeue", trial, spec, store)
    return {"trial_id": trial.id}


def _handle_requeue(engine: Engine, args: TrialArgs, actor: str) -> str:
    source = engine.store.trial(args["trial_id"])
    assert source is not None
    return engine.trials.clone(source.id, {}, bool(source.checkpoint), actor, "requeue")[1]


def _requeue_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("ids", type=trial_id_arg, nargs="*", metavar="ID",
                    help="finished trials to restart")
    sp.add_argument("--lost", action="store_true", help="every lost trial")


def _requeue_payloads(args: argparse.Namespace, view: RunView) -> list[dict[str, Any]]:
    ids = list(args.ids)
    if args.lost:
        ids += [t.id for t in view.store.trials([LOST])]
    if not ids:
        raise CommandError("name trial ids to requeue, or --lost")
    return [{"trial_id": t} for t in ids]


REQUEUE = CommandKind(
    "requeue", _validate_requeue, _handle_requeue,
    CliForm("requeue", "Restart a finished (e.g. lost) trial as a new trial from its last "
            "checkpoint.", "tuitune requeue quickstart --lost", _requeue_arguments,
            _requeue_payloads),
    (TuiKey("R", "requeue", "Requeue",
            "Restart a finished or lost trial from its last checkpoint", show=False),),
)


# -- tweak -------------------------------------------------------------------------------------
class TweakArgs(TypedDict):
    trial_id: int
    set: dict[str, Any]


def _validate_tweak(args: dict[str, Any], spec: Spec, store: RunStore) -> TweakArgs:
    trial = _trial(store, args)
    _refuse("tweak", trial, spec, store)  # the state first: no value can help then
    changes = args.get("set", {})
    check_tweak_names(spec, trial.id, list(changes))
    changes = _validated(spec, changes)
    _refuse_inactive(spec, {**store.current_params(trial), **changes}, changes)
    return {"trial_id": trial.id, "set": changes}


def _handle_tweak(engine: Engine, args: TweakArgs, actor: str) -> str:
    tid, store = args["trial_id"], engine.store
    for name, value in args["set"].items():
        store.add_param_change(tid, name, value, actor)
    text = ", ".join(f"{k}={shown(v)}" for k, v in args["set"].items())
    store.add_event("tweak_requested", actor, f"trial {tid}: tweak {text} requested",
                    trial_id=tid, data={"set": args["set"]})
    return f"trial {tid}: {text} will apply at its next step"


def _tweak_arguments(sp: argparse.ArgumentParser) -> None:
    add_trial_id(sp, "the running trial")
    sp.add_argument("assignments", nargs="+", metavar="NAME=VALUE",
                    help="a mutable parameter's new value")


def _tweak_payloads(args: argparse.Namespace, view: RunView) -> list[dict[str, Any]]:
    # The trial's state first (no value helps a trial that ended), then mutability:
    # their messages suggest cloning, which a range error would hide.
    reason = view.refusal("tweak", args.id)
    if reason:
        raise CommandError(reason)
    check_tweak_names(view.spec, args.id, [a.partition("=")[0].strip()
                                           for a in args.assignments])
    return [{"trial_id": args.id, "set": _assignments(view, args.assignments)}]


TWEAK = CommandKind(
    "tweak", _validate_tweak, _handle_tweak,
    CliForm("tweak", "Change mutable parameters of a running trial (applied at its next step).",
            "tuitune tweak quickstart 3 lr=0.003", _tweak_arguments, _tweak_payloads),
    (TuiKey("t", "tweak", "Tweak", "Change mutable parameters of a running trial"),
     TuiKey("left_square_bracket", "scale_lr(0.1)", "LR ÷10",
            "Divide the running trial's learning rate by 10", show=False),
     TuiKey("right_square_bracket", "scale_lr(10)", "LR ×10",
            "Multiply the running trial's learning rate by 10", show=False)),
)


# -- note, star, protect -----------------------------------------------------------------------
class NoteArgs(TypedDict):
    trial_id: int
    text: str


def _validate_note(args: dict[str, Any], spec: Spec, store: RunStore) -> NoteArgs:
    trial = _trial(store, args)
    text = args.get("text", "")
    if not isinstance(text, str):
        raise CommandError("a note is text")
    return {"trial_id": trial.id, "text": text.strip()}


def _handle_note(engine: Engine, args: NoteArgs, actor: str) -> str:
    engine.store.update_trial(args["trial_id"], note=args["text"])
    engine.store.add_event("note", actor, f"trial {args['trial_id']} note: {args['text']}",
                           trial_id=args["trial_id"])
    return "note saved"


def _note_arguments(sp: argparse.ArgumentParser) -> None:
    add_trial_id(sp)
    sp.add_argument("text", help="the note (replaces the trial's earlier note)")


NOTE = CommandKind(
    "note", _validate_note, _handle_note,
    CliForm("note", "Attach a note to a trial.", "tuitune note quickstart 3 'diverged at 2k'",
            _note_arguments, lambda a, view: [{"trial_id": a.id, "text": a.text}]),
    (TuiKey("a", "note", "Note", "Write a note on the trial", show=False),),
)


class FlagArgs(TypedDict):
    trial_id: int
    value: bool


def _validate_flag(args: dict[str, Any], spec: Spec, store: RunStore) -> FlagArgs:
    trial = _trial(store, args)
    return {"trial_id": trial.id, "value": bool(args.get("value", True))}


def _flag_arguments(sp: argparse.ArgumentParser) -> None:
    add_trial_id(sp)
    sp.add_argument("--off", action="store_true", help="undo")


def _flag_payloads(args: argparse.Namespace, view: RunView) -> list[dict[str, Any]]:
    return [{"trial_id": args.id, "value": not args.off}]


def _handle_star(engine: Engine, args: FlagArgs, actor: str) -> str:
    tid, word = args["trial_id"], "starred" if args["value"] else "unstarred"
    engine.store.update_trial(tid, starred=int(args["value"]))
    engine.store.add_event("star", actor, f"trial {tid} {word}", trial_id=tid)
    return f"trial {tid} {word}"


STAR = CommandKind(
    "star", _validate_flag, _handle_star,
    CliForm("star", "Star a trial (pinned in the TUI chart).", "tuitune star quickstart 3",
            _flag_arguments, _flag_payloads),
    (TuiKey("s", "star", "Star/pin", "Star the trial: pinned on the chart next to the "
            "selected one", show=False),),
)


def _handle_protect(engine: Engine, args: FlagArgs, actor: str) -> str:
    tid, on = args["trial_id"], args["value"]
    engine.store.update_trial(tid, protected=int(on))
    word = "protected from" if on else "exposed to"
    engine.store.add_event("protect", actor, f"trial {tid} {word} stopping rules", trial_id=tid)
    return f"trial {tid} {word} stopping rules"


PROTECT = CommandKind(
    "protect", _validate_flag, _handle_protect,
    CliForm("protect", "Protect a trial from stopping rules.", "tuitune protect quickstart 3",
            _flag_arguments, _flag_payloads),
    (TuiKey("P", "protect", "Protect", "Protect the trial from stopping rules (or not)",
            show=False),),
)


# -- handoff -----------------------------------------------------------------------------------
class _HandoffRequired(TypedDict):
    strategy: str
    options: dict[str, Any]


class HandoffArgs(_HandoffRequired, total=False):
    more: int  # N trials from now (counted when carried out)
    max_trials: int  # a total
    max_concurrent: int
    rules: list[list[Any]]  # [name, options] pairs; absent: the rules stay as they are


def _validate_handoff(args: dict[str, Any], spec: Spec, store: RunStore) -> HandoffArgs:
    from tuitune.core.strategies import available_strategies, build_searcher

    strategy = args.get("strategy")
    if not isinstance(strategy, str) or strategy not in available_strategies():
        raise CommandError(f"unknown strategy {strategy!r} (expected one of: "
                           f"{', '.join(available_strategies())})")
    options = dict(args.get("options") or {})
    try:
        build_searcher(strategy, spec.space, spec.search.seed, spec.all_objectives, options)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    try:
        trials = normalise({k: args.get(k) for k in ("more", "max_trials", "max_concurrent")},
                           required=False)
    except BudgetError as exc:
        raise CommandError(str(exc)) from None
    out: HandoffArgs = {"strategy": strategy, "options": options, **trials}  # type: ignore[typeddict-item]
    if args.get("rules") is not None:
        out["rules"] = _validate_rules(args["rules"], spec)
    _check_budget(out, store)
    return out


def _validate_rules(raw: Any, spec: Spec) -> list[list[Any]]:
    from tuitune.core.strategies import build_rules

    try:
        rules = normalise_rules(raw)
        build_rules(rules, spec.space, spec.budget.max_steps, spec.search.seed)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return [[name, options] for name, options in rules]  # JSON's shape, as stored


def _check_budget(args: HandoffArgs, store: RunStore) -> None:
    """`more` is N trials from now; `max_trials` a total, so it must exceed what has run."""
    used = budget_used(store)
    total = args.get("max_trials")
    if total is not None and total <= used:
        raise CommandError(f"a total of {total} trials is not above the {used} "
                           f"this run has had; use --more N for N more trials")


def _handle_handoff(engine: Engine, args: HandoffArgs, actor: str) -> str:
    return engine.search.hand_off(args, actor)


def _trial_budget_arguments(sp: argparse.ArgumentParser, total_rule: str) -> None:
    budget = sp.add_mutually_exclusive_group()
    budget.add_argument("--more", type=non_negative_int, metavar="N",
                        help="N more trials from now (counting every trial started so far)")
    budget.add_argument("--max-trials", type=positive_int, metavar="TOTAL",
                        help=f"a total for the whole run; {total_rule} the trials it has had")
    sp.add_argument("--max-concurrent", type=positive_int, metavar="N",
                    help="at most N trials at once (default: as it is)")


def _handoff_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("strategy", help="manual, random, grid, coordinate or bayes")
    _trial_budget_arguments(sp, "must be above")
    sp.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                    help="a strategy option (repeatable)")
    rules = sp.add_mutually_exclusive_group()
    rules.add_argument("--rule", action="append", default=[], metavar="RULE",
                       help="the stopping rules from now on, replacing the run's (repeatable, "
                            "in order; e.g. predict, asha, median, divergence)")
    rules.add_argument("--no-rules", action="store_true", help="no stopping rule from now on")
    sp.add_argument("--rule-option", action="append", default=[], metavar="RULE.NAME=VALUE",
                    help="an option of a rule given with --rule (repeatable), "
                         "e.g. predict.top_k=5")


def _handoff_payloads(args: argparse.Namespace, view: RunView) -> list[dict[str, Any]]:
    try:
        options = parse_options(args.option, "--option")
        rules = (with_options(args.rule, parse_rule_options(args.rule_option))
                 if args.rule or args.no_rules or args.rule_option else None)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    payload: dict[str, Any] = {"strategy": args.strategy, "options": options}
    if rules is not None:
        payload["rules"] = [[name, opts] for name, opts in rules]
    if args.more is not None:
        payload["more"] = args.more
    if args.max_trials:
        payload["max_trials"] = args.max_trials
    if args.max_concurrent:
        payload["max_concurrent"] = args.max_concurrent
    return [payload]


HANDOFF = CommandKind(
    "handoff", _validate_handoff, _handle_handoff,
    CliForm("handoff", "Hand the run to automatic search (or back to manual).",
            "tuitune handoff quickstart bayes --more 20", _handoff_arguments,
            _handoff_payloads),
    (TuiKey("h", "handoff", "Handoff", "Hand off to automatic search, or back to manual"),),
)


# -- stop --------------------------------------------------------------------------------------
class StopArgs(TypedDict):
    pass


def _validate_stop(args: dict[str, Any], spec: Spec, store: RunStore) -> StopArgs:
    return {}


def _handle_stop(engine: Engine, args: StopArgs, actor: str) -> str:
    engine.trials.stop_experiment(actor)
    return "stopping the experiment"


STOP = CommandKind(
    "stop", _validate_stop, _handle_stop,
    CliForm("stop", "Stop the experiment: kill its trials and end its supervisor (one is "
            "started to do it if the run's supervisor died; a reused pid is never signalled).",
            "tuitune stop quickstart", lambda sp: None, lambda a, view: [{}]),
    (TuiKey("X", "stop_experiment", "Stop experiment",
            "Stop the whole experiment: kill every trial (asks first)", show=False),),
)


# -- space -------------------------------------------------------------------------------------
class _SpaceRequired(TypedDict):
    token: str  # names the edit, so a crash between applying and answering is harmless


class SpaceArgs(_SpaceRequired, total=False):
    ranges: dict[str, dict[str, Any]]
    choices: dict[str, list[Any]]
    add_choices: dict[str, list[Any]]
    drop_choices: dict[str, list[Any]]
    fix: dict[str, Any]
    free: list[str]
    log: bool
    undo: bool


def _validate_space(args: dict[str, Any], spec: Spec, store: RunStore) -> SpaceArgs:
    try:
        plan_edit(spec, store.meta(), args)
    except SpaceEditError as exc:
        raise CommandError(str(exc)) from None
    out: dict[str, Any] = {k: args[k] for k in ("ranges", "choices", "add_choices",
                                                "drop_choices", "fix", "free", "log", "undo")
                           if args.get(k)}
    # A token names the edit, so a supervisor that crashed after applying it but
    # before answering does not apply it again when it takes the command anew.
    out["token"] = str(args.get("token") or uuid.uuid4().hex)
    return out  # type: ignore[return-value]


def _handle_space(engine: Engine, args: SpaceArgs, actor: str) -> str:
    return engine.search.edit_space(args, actor)


def _space_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("ranges", nargs="*", metavar="NAME=LOW..HIGH",
                    help="a new range (or NAME=a,b,c: a categorical's choices)")
    sp.add_argument("--log", action="store_true", help="the given ranges are log scaled")
    sp.add_argument("--fix", action="append", default=[], metavar="NAME=VALUE",
                    help="fix a parameter at a value (repeatable)")
    sp.add_argument("--free", action="append", default=[], metavar="NAME",
                    help="search a fixed parameter again, over the range it last had "
                         "(repeatable)")
    sp.add_argument("--choices", action="append", default=[], metavar="NAME=a,b",
                    help="a categorical's choices: NAME=a,b sets them, NAME+=c adds c, "
                         "NAME-=c drops c (repeatable)")
    sp.add_argument("--undo", action="store_true", help="go back to the previous revision")


def _space_payloads(args: argparse.Namespace, view: RunView) -> list[dict[str, Any]]:
    payload: dict[str, Any] = {"ranges": {}, "choices": {}, "add_choices": {},
                               "drop_choices": {}, "fix": {}, "free": list(args.free),
                               "log": args.log, "undo": args.undo}
    try:
        for item in args.ranges:
            name, what = parse_range(item)
            if name in payload["ranges"] or name in payload["choices"]:
                raise SpaceEditError(f"{name} is given twice; give each parameter once")
            payload["choices" if isinstance(what, list) else "ranges"][name] = what
        for item in args.choices:
            op, name, values = parse_choices(item)
            payload[op][name] = values
        space = view.spec.space
        for item in args.fix:
            name, sep, text = item.partition("=")
            if not sep or not name.strip():
                raise SpaceEditError(f"--fix needs NAME=VALUE, got {item!r}")
            if name.strip() not in space:
                raise SpaceEditError(f"unknown parameter {name.strip()!r}; the space has "
                                     f"{', '.join(space.names)}")
            payload["fix"][name.strip()] = space[name.strip()].parse(text)
    except (SpaceEditError, SpaceError) as exc:
        raise CommandError(str(exc)) from None
    return [payload]


SPACE = CommandKind(
    "space", _validate_space, _handle_space,
    CliForm("space", "Change a live run's search space: a numbered revision; running trials "
            "are not touched.", "tuitune space quickstart lr=0.01..0.3 --log",
            _space_arguments, _space_payloads),
    (TuiKey("S", "edit_space", "Space", "Change the search space: narrow, widen, fix, free, "
            "choices, undo", show=False),),
)


# -- budget ------------------------------------------------------------------------------------
class BudgetArgs(TypedDict, total=False):
    more: int
    max_trials: int
    max_concurrent: int
    trial_timeout: float  # seconds; 0: no cap
    experiment_timeout: float


def _validate_budget(args: dict[str, Any], spec: Spec, store: RunStore) -> BudgetArgs:
    try:
        out = normalise(args)
        now = time.time()
        started = store.meta(["started_at"]).get("started_at")
        running = [(t.id, now - t.started_at) for t in store.trials([RUNNING, PAUSED])
                   if t.started_at]
        check_not_below(out, budget_used(store), now - started if started else None,
                        max(running, key=lambda r: r[1]) if running else None)
    except BudgetError as exc:
        raise CommandError(str(exc)) from None
    return out  # type: ignore[return-value]


def _handle_budget(engine: Engine, args: BudgetArgs, actor: str) -> str:
    return engine.search.change_budget(args, actor)


def _budget_arguments(sp: argparse.ArgumentParser) -> None:
    _trial_budget_arguments(sp, "not below")
    sp.add_argument("--trial-timeout", metavar="DURATION",
                    help="each trial's time cap (90s, 30m, 2h; off: none); running trials "
                         "too, so not below the time one has already run")
    sp.add_argument("--experiment-timeout", metavar="DURATION",
                    help="the whole run's time cap, from its start (off: none); not below "
                         "the time it has run")


BUDGET = CommandKind(
    "budget", _validate_budget, _handle_budget,
    CliForm("budget", "Change a live run's budget: more or fewer trials, concurrency, time "
            "caps. A budget below what has already run is refused.",
            "tuitune budget quickstart --more 10 --max-concurrent 4 --experiment-timeout 2h",
            _budget_arguments,
            lambda a, view: [{key: getattr(a, key) for key in (
                "more", "max_trials", "max_concurrent", "trial_timeout", "experiment_timeout")
                if getattr(a, key) is not None}]),
    (TuiKey("B", "change_budget", "Budget", "Change the budget: more trials, concurrency, "
            "time caps", show=False),),
)


#: Every kind, in the order the TUI's keys and the CLI's subcommands list them.
COMMAND_KINDS: tuple[CommandKind[Any], ...] = (
    NEW, KILL, PAUSE, RESUME, CLONE, TWEAK, NOTE, STAR, PROTECT, REQUEUE, HANDOFF, STOP, SPACE,
    BUDGET,
)
BY_NAME: dict[str, CommandKind[Any]] = {k.name: k for k in COMMAND_KINDS}


def command_kind(name: str) -> CommandKind[Any]:
    kind = BY_NAME.get(name)
    if kind is None:
        raise CommandError(f"unknown command {name!r}")
    return kind


def validate(kind: str, args: Mapping[str, Any], spec: Spec, store: RunStore) -> dict[str, Any]:
    """Return normalised arguments or raise CommandError."""
    return dict(command_kind(kind).validate(dict(args), spec, store))
