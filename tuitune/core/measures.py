"""Measures the engine records for every trial, usable as objectives and in
constraints without the script reporting them (spec: [objective])."""

from __future__ import annotations

#: name -> what it is.
BUILTIN_MEASURES = {
    "train_seconds": "the trial's wall time in seconds (so far, while it runs)",
    "gpu_mem_mb": "the trial's peak GPU memory in MB, where a GPU measured it",
}


def builtin_values(started_at: float | None, ended_at: float | None,
                   peak_gpu_mem_mb: float | None, now: float) -> dict[str, float]:
    """The built-in measures known for one trial (absent where unknown)."""
    out: dict[str, float] = {}
    if started_at is not None:
        out["train_seconds"] = max((ended_at if ended_at is not None else now) - started_at, 0.0)
    if peak_gpu_mem_mb is not None:
        out["gpu_mem_mb"] = float(peak_gpu_mem_mb)
    return out
