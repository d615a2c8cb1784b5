"""How a trial that ended on its own is recorded: a pure function of how its process
ended, what it reported, and the end of its log."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tuitune.executors.base import Exit
from tuitune.core.history import COMPLETED, DIVERGED, FAILED, LOST


@dataclass(frozen=True)
class Outcome:
    state: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict)


def classify_exit(trial_id: int, ended: Exit, curve: Sequence[tuple[int, float]], metric: str,
                  log_tail: str, node: str | None = None) -> Outcome:
    """Completed, diverged (a non-finite last objective), failed (with the reason and
    the log's last lines), or lost (the executor lost the trial)."""
    if ended.lost:
        return Outcome(LOST, f"trial {trial_id} lost: its node {node or '?'} died or its actor "
                       "ended; its metrics so far are kept; `tuitune requeue RUN --lost` "
                       "restarts it from its last checkpoint")
    if ended.launcher_killed:
        by = f" (signal {ended.signal})" if ended.signal else ""
        more = (f" and {ended.orphans_ended} process(es) it left were ended"
                if ended.orphans_ended else "")
        return Outcome(FAILED, f"trial {trial_id} failed: its launcher was killed{by}; the "
                       f"training process was ended with it{more}",
                       {"exit_code": None, "error": log_tail})
    if ended.code == 0:
        if curve and not math.isfinite(curve[-1][1]):
            return Outcome(DIVERGED, f"trial {trial_id} diverged ({metric} = {curve[-1][1]})",
                           {"exit_code": 0})
        note = "" if curve else f" (it reported no {metric})"
        return Outcome(COMPLETED, f"trial {trial_id} completed{note}", {"exit_code": 0})
    why = (f"exit code {ended.code}" if ended.code is not None
           else f"killed by signal {ended.signal}" if ended.signal else "exit status unknown")
    lines = log_tail.strip().splitlines()
    last = f": {lines[-1]}" if lines else ""
    return Outcome(FAILED, f"trial {trial_id} failed ({why}){last}",
                   {"exit_code": ended.code, "error": log_tail})
