"""Parallel coordinates of the best N trials: one axis per parameter in its unit
encoding (log axes for log parameters, categories spread evenly), one line per trial."""

from __future__ import annotations

from dataclasses import dataclass

from tuitune.core.space import Space

from tuitune.insight.points import TrialPoint, ranked


@dataclass(frozen=True)
class ParallelLine:
    trial_id: int
    value: float
    positions: tuple[float | None, ...]  # per axis, in [0, 1]; None outside the space


@dataclass(frozen=True)
class Parallel:
    axes: tuple[str, ...]
    lines: tuple[ParallelLine, ...]  # best first


def parallel_coordinates(points: list[TrialPoint], space: Space, n_best: int) -> Parallel:
    axes = tuple(p.name for p in space.dims)
    lines = []
    for point in [p for p in ranked(points) if p.value is not None][:max(n_best, 1)]:
        positions: list[float | None] = []
        for param in space.dims:
            try:
                u = float(param.to_unit(point.params[param.name]))
            except (KeyError, ValueError, TypeError):
                u = -1.0
            positions.append(u if 0.0 <= u <= 1.0 else None)
        lines.append(ParallelLine(point.id, float(point.value), tuple(positions)))  # type: ignore[arg-type]
    return Parallel(axes, tuple(lines))
