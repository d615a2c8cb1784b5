"""A live run's budget: more or fewer trials, concurrency and time caps, changed while
it runs (`tuitune budget`, the TUI's budget form).

The budget in effect is the spec's `[budget]` with the run's meta on top (the keys
`max_trials`, `max_concurrent`, `trial_timeout`, `experiment_timeout`, written by a
hand-off or a budget change). A change below what has already run is refused in one
line and changes nothing: a total under the trials the run has had, an experiment cap
under the time it has run, a trial cap under the time a running trial has run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuitune.core.numfmt import value as shown
from tuitune.core.spec import Spec, parse_duration

KEYS = ("max_trials", "max_concurrent", "trial_timeout", "experiment_timeout")
#: What `--trial-timeout off` (or none) means: no cap.
OFF = ("off", "none")


class BudgetError(ValueError):
    """A budget change that cannot be made; str() is one line for the user."""


def current_budget(spec: Spec, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The budget in effect: the run's meta over the spec's `[budget]`."""
    b = spec.budget
    spec_values = {"max_trials": b.max_trials, "max_concurrent": b.max_concurrent,
                   "trial_timeout": b.trial_timeout,
                   "experiment_timeout": b.experiment_timeout}
    return {k: meta[k] if k in meta else spec_values[k] for k in KEYS}


def normalise(args: Mapping[str, Any], required: bool = True) -> dict[str, Any]:
    """Check the fields' types: `more` (0 or more), `max_trials` and `max_concurrent`
    (1 or more), the caps (seconds, a duration text, or "off")."""
    out: dict[str, Any] = {}
    for key, least in (("more", 0), ("max_trials", 1), ("max_concurrent", 1)):
        v = args.get(key)
        if v is None:
            continue
        if not isinstance(v, int) or isinstance(v, bool) or v < least:
            raise BudgetError(f"{key} must be an integer of at least {least}, got {v!r}")
        out[key] = v
    if "more" in out and "max_trials" in out:
        raise BudgetError("give either more trials (--more) or a total (--max-trials), not both")
    for key in ("trial_timeout", "experiment_timeout"):
        v = args.get(key)
        if v is None:
            continue
        # "off" is stored as 0, and the supervisor checks what the front end normalised
        # again: so a number 0 is "off" too (the text "0" is still refused below).
        if (isinstance(v, str) and v.strip().lower() in OFF) or (
                isinstance(v, (int, float)) and not isinstance(v, bool) and v == 0):
            out[key] = 0  # no cap
            continue
        try:
            out[key] = parse_duration(v)
        except ValueError as exc:
            raise BudgetError(f"{key.replace('_', '-')}: {exc}") from None
    if not out and required:
        raise BudgetError("nothing to change: give --more N, --max-trials N, "
                          "--max-concurrent N, --trial-timeout or --experiment-timeout")
    return out


def check_not_below(args: Mapping[str, Any], used: int, run_age: float | None,
                    oldest_running: tuple[int, float] | None) -> None:
    """Refuse a budget below what has already run.

    Args:
        used: trials counted against the budget so far.
        run_age: seconds the run has run (None before it started).
        oldest_running: (trial id, seconds it has run) of the longest-running trial.
    """
    total = args.get("max_trials")
    if total is not None and total < used:
        raise BudgetError(f"a total of {total} trials is below the {used} this run has had; "
                          f"use --more N for N more trials")
    cap = args.get("experiment_timeout")
    if cap and run_age is not None and cap <= run_age:
        raise BudgetError(f"an experiment time cap of {_duration(cap)} is below the "
                          f"{_duration(run_age)} this run has run; `tuitune stop` ends it now")
    cap = args.get("trial_timeout")
    if cap and oldest_running is not None and cap <= oldest_running[1]:
        tid, age = oldest_running
        raise BudgetError(f"a trial time cap of {_duration(cap)} is below the {_duration(age)} "
                          f"trial {tid} has run; `tuitune kill` ends it now")


def apply(budget: Mapping[str, Any], args: Mapping[str, Any], used: int
          ) -> tuple[dict[str, Any], str]:
    """The new budget and a line saying what changed. `more` counts from `used`."""
    new = dict(budget)
    if "more" in args:
        new["max_trials"] = used + args["more"]
    for key in KEYS:
        if key in args:
            new[key] = args[key] or None  # 0: the cap is off
    said = [f"{key.replace('_', ' ')} {_show(key, budget.get(key))} -> {_show(key, new[key])}"
            for key in KEYS if new[key] != budget.get(key)]
    return new, ("budget: " + ", ".join(said)) if said else "budget unchanged"


def describe(budget: Mapping[str, Any]) -> str:
    """`max trials 20, max concurrent 2, trial timeout 30m, experiment timeout none`."""
    return ", ".join(f"{key.replace('_', ' ')} {_show(key, budget.get(key))}" for key in KEYS)


def _show(key: str, v: Any) -> str:
    if v is None:
        return "none"
    return _duration(v) if key.endswith("timeout") else shown(v)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{shown(seconds)}s"
