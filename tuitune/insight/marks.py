"""How each trial is marked by origin (light: the TUI imports it before scipy)."""

from __future__ import annotations

HAND, SEARCH, CLONE, PRUNED = "hand", "search", "clone", "pruned"
CLONE_ORIGINS = frozenset({"clone", "requeue", "pbt"})


def mark_of(origin: str) -> str:
    if origin == "manual":
        return HAND
    return CLONE if origin in CLONE_ORIGINS else SEARCH
