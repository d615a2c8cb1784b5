"""Insight into a run: which parameters matter, what the model believes, what to try next.

Pure functions over the frozen History the searchers see (numpy/scipy only): no
textual, no store writes. Advice is returned as decisions with their evidence;
only the engine acts, through the commands a front end sends.
"""

from __future__ import annotations

from .advice import Advice
from .importance import Importance, ped_anova
from .points import TrialPoint, trial_points
from .report import Insight, build_insight

__all__ = ["Advice", "Importance", "Insight", "TrialPoint", "build_insight", "ped_anova",
           "trial_points"]
