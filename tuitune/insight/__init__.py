"""Insight into a run: which parameters matter, what the model believes, what to try next.

Pure functions over the frozen History the searchers see (numpy/scipy only): no
textual, no store writes. Advice is returned as decisions with their evidence;
only the engine acts, through the commands a front end sends.

The names below are loaded on first use: the model pulls in scipy (seconds on a
cold start), and the TUI must open its screen before that.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "Advice": "advice", "Importance": "importance", "ped_anova": "importance",
    "TrialPoint": "points", "trial_points": "points", "Insight": "report",
    "build_insight": "report",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
