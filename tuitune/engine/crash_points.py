"""Deterministic crash points: the supervisor kills itself at a named step.

Every multi-step action of the supervisor (start a trial, end one, pause, clone,
handle a command) must be safe when the process dies between any two of its steps.
Random SIGKILLs mostly land in the easy moments, so each step has a name here and
`TUITUNE_CRASH_AT=<name>` makes the supervisor SIGKILL itself the first time it gets
there. Tests start a run with it, let it die, `tuitune resume` it and check that
nothing ran twice, nothing runs untracked and every kill was finished.
"""

from __future__ import annotations

import os
import signal

ENV = "TUITUNE_CRASH_AT"

#: Every crash point, in the order its protocol passes them. docs/architecture.md
#: describes what a new supervisor finds at each.
POINTS = (
    "command.taken",          # a command marked taken, before it acts
    "command.acted",          # it acted, before it is answered
    "command.answered",       # answered
    "start.intent",           # a launch token recorded, before the process is spawned
    "start.spawned",          # the process runs, before it is recorded as running
    "start.recorded",         # recorded as running
    "end.planned",            # an end plan stored, before any signal
    "end.termed",             # SIGTERM sent, before that is recorded
    "end.killed",             # SIGKILL sent
    "end.exited",             # the process is gone, before its end is recorded
    "pause.recorded",         # recorded paused, before SIGSTOP
    "pause.signalled",        # SIGSTOP sent
    "unpause.recorded",       # recorded running, before SIGCONT
    "unpause.signalled",      # SIGCONT sent
    "clone.copied",           # the checkpoint copied, before the clone is recorded
    "clone.recorded",         # the clone recorded
)

_armed: str | None = None


def arm_from_env() -> str | None:
    """Read the crash point once, at supervisor start, and take it out of the
    environment so neither trials nor a resumed supervisor inherit it."""
    global _armed
    name = os.environ.pop(ENV, None) or None
    if name is not None and name not in POINTS:
        raise ValueError(f"{ENV}={name!r} names no crash point (known: {', '.join(POINTS)})")
    _armed = name
    return name


def crash_point(name: str) -> None:
    """SIGKILL this process if `name` is the armed crash point."""
    if _armed is not None and name == _armed:
        os.kill(os.getpid(), signal.SIGKILL)
