"""A trial's state: one enum, the strings it is stored as, and its groups.

Every part of tuitune names states through `TrialState` (the store reads them back
as members); a member is a `str`, so it compares, formats and serialises as the
word it is stored as.
"""

from __future__ import annotations

from enum import Enum


class TrialState(str, Enum):
    # Shown and formatted as its stored word on every Python we support (enum.StrEnum
    # is 3.11+; a plain str mix-in formats as "TrialState.X" on 3.11).
    __str__ = str.__str__

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    KILLED = "killed"
    PRUNED = "pruned"
    DIVERGED = "diverged"
    TIMED_OUT = "timed_out"
    LOST = "lost"


#: `ACTIVE` ones hold resources (or wait for them); `LIVE` ones have a process;
#: `FINISHED` ones never change again.
ACTIVE_STATES = frozenset({TrialState.QUEUED, TrialState.RUNNING, TrialState.PAUSED})
LIVE_STATES = frozenset({TrialState.RUNNING, TrialState.PAUSED})
FINISHED_STATES = frozenset(TrialState) - ACTIVE_STATES
#: Endings that went wrong, and endings someone (a user or a rule) decided.
FAILED_STATES = frozenset({TrialState.FAILED, TrialState.DIVERGED, TrialState.TIMED_OUT,
                           TrialState.LOST})
STOPPED_STATES = frozenset({TrialState.KILLED, TrialState.PRUNED})
