"""How a trial the engine is ending will be recorded, and when to escalate.

A plan is stored with the trial the moment it is made (`trials.end_plan`), before
any signal, so a supervisor killed during the grace period leaves it behind and the
next one finishes it: same deadlines (wall clock), same recorded state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class EndPlan:
    state: str  # what the trial is recorded as once its process is gone
    actor: str
    message: str
    data: dict[str, Any] | None
    term_at: float  # when to send SIGTERM (seconds since the epoch)
    kill_at: float  # when to escalate to SIGKILL
    termed: bool = False

    def to_store(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_store(cls, stored: dict[str, Any]) -> EndPlan:
        return cls(**{f.name: stored[f.name] for f in fields(cls) if f.name in stored})
