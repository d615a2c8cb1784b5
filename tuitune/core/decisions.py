"""What search algorithms and stopping rules may ask the engine to do.

Algorithms return these; only the engine acts on them (starts, signals, records).
Each carries a human-readable reason so the TUI and the event log can explain it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tuitune.core.trial_state import TrialState


@dataclass(frozen=True)
class Suggest:
    """Start a new trial with these parameters."""

    params: Mapping[str, Any]
    origin: str  # the strategy's name: "random", "bayes", ...
    reason: str = ""


@dataclass(frozen=True)
class Exhausted:
    """The strategy has nothing more to suggest (e.g. the grid is done)."""

    reason: str = "search space exhausted"


@dataclass(frozen=True)
class Wait:
    """Nothing to suggest now; ask again when a trial finishes.

    For strategies that go in stages (grid zoom rounds, coordinate-descent steps):
    the next stage is laid out from the results of the current one, some of which
    are still running. Unlike `Exhausted`, the engine keeps asking.
    """

    reason: str = "waiting for running trials"


@dataclass(frozen=True)
class Stop:
    """Stop a running trial early.

    Attributes:
        state: the state to record: "pruned" for early stopping, "diverged" for NaN/inf
            or exploding losses.
        details: rung, threshold, value and the like, for the event log.
    """

    trial_id: int
    rule: str
    reason: str
    state: TrialState = TrialState.PRUNED
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Exploit:
    """Population based training: replace `target_id` by a clone of `source_id`
    from its latest checkpoint, with `params` (perturbed mutable parameters)."""

    target_id: int
    source_id: int
    params: Mapping[str, Any]
    reason: str
    rule: str = "pbt"


Decision = Suggest | Exhausted | Wait | Stop | Exploit
