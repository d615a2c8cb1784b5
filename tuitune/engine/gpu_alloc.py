"""Which GPUs a trial gets, or why it must wait: decisions only, no I/O.

Rules (pinned by tests/system/test_system_gpu_alloc.py):

* ``gpus_per_trial == 0``: an empty assignment (``CUDA_VISIBLE_DEVICES=""``).
* A fraction ``s`` (0 < s < 1): one GPU shared by at most ``floor(1/s)``
  trials (and never more than a whole GPU's worth of shares); the trial goes
  to the least loaded GPU that fits, ties broken by more free memory, then the
  lower index. A GPU held whole is never shared.
* A whole number ``k``: ``k`` GPUs that no trial holds, lowest indices first.
* Memory, when ``peak_mb`` (the peak per-GPU memory of similar past trials)
  is known: a GPU qualifies only if its measured free memory is at least
  ``peak_mb``, and, for shared GPUs, if every trial on it, including the
  new one, can reach that peak (trials that started together have not
  allocated yet, so measured free memory alone would admit them all).
* A request no release could ever satisfy is a ``GpuWait`` with ``permanent``.

NVML numbers GPUs in PCI bus order; CUDA by default does not. Start trials
with ``Assignment.env()``, which sets ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Gpu:
    """A GPU trials may use: its NVML index and total memory."""

    index: int
    total_mb: float


@dataclass(frozen=True, slots=True)
class Assignment:
    """GPUs given to a trial. ``share`` is the fraction of each (1.0 whole, 0.0 none)."""

    gpu_ids: tuple[int, ...]
    share: float

    @property
    def cuda_visible_devices(self) -> str:
        """Value for ``CUDA_VISIBLE_DEVICES`` ("" hides every GPU)."""
        return ",".join(str(i) for i in self.gpu_ids)

    def env(self) -> dict[str, str]:
        """Environment for the trial process (NVML index order = PCI bus order)."""
        return {
            "CUDA_VISIBLE_DEVICES": self.cuda_visible_devices,
            "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        }


@dataclass(frozen=True, slots=True)
class GpuWait:
    """The trial cannot start now; ``reason`` is shown to the user as is."""

    reason: str
    permanent: bool = False


Decision = Assignment | GpuWait
AssignmentLike = Assignment | tuple[Sequence[int], float]


def parse_request(gpus_per_trial: float) -> tuple[int, float]:
    """Split a request into (number of GPUs, share of each).

    Raises:
        ValueError: negative, or above 1 and not whole.
    """
    g = float(gpus_per_trial)
    if not math.isfinite(g) or g < 0:
        raise ValueError(f"gpus_per_trial must be 0, a fraction or a whole number, got {g!r}")
    if g == 0:
        return 0, 0.0
    if g < 1:
        return 1, g
    if abs(g - round(g)) > _EPS:
        raise ValueError(f"gpus_per_trial above 1 must be whole, got {g!r}")
    return int(round(g)), 1.0


def _gb(mb: float) -> str:
    return f"{mb / 1024:.1f} GB"


def _as_assignment(value: AssignmentLike) -> Assignment:
    if isinstance(value, Assignment):
        return value
    ids, share = value
    return Assignment(tuple(ids), float(share))


def decide(
    gpus: Sequence[Gpu],
    gpus_per_trial: float,
    assignments: Mapping[int, AssignmentLike],
    free_mb: Mapping[int, float] | None = None,
    peak_mb: float | None = None,
) -> Decision:
    """Decide GPUs for one new trial (see the module docstring for the rules)."""
    count, share = parse_request(gpus_per_trial)
    if count == 0:
        return Assignment((), 0.0)
    if not gpus:
        return GpuWait(f"no GPU is visible, but gpus_per_trial={gpus_per_trial:g}", permanent=True)
    if count > len(gpus):
        return GpuWait(f"asks for {count} GPUs, only {len(gpus)} visible", permanent=True)
    biggest = max(gpus, key=lambda g: g.total_mb)
    if peak_mb is not None and peak_mb > biggest.total_mb:
        return GpuWait(
            f"similar trials peaked at {_gb(peak_mb)}, the largest GPU has {_gb(biggest.total_mb)}",
            permanent=True,
        )
    holders: dict[int, list[tuple[int, float]]] = {g.index: [] for g in gpus}
    for trial_id, value in assignments.items():
        a = _as_assignment(value)
        for index in a.gpu_ids:
            holders.setdefault(index, []).append((trial_id, a.share))
    free = dict(free_mb or {})
    if share < 1:
        return _decide_fraction(gpus, share, holders, free, peak_mb)
    return _decide_whole(gpus, count, holders, free, peak_mb)


def _memory_problem(
    gpu: Gpu, n_after: int, free: Mapping[int, float], peak_mb: float | None
) -> str | None:
    """Why ``gpu`` cannot take one more trial memory-wise, or None if it can."""
    if peak_mb is None:
        return None
    measured = free.get(gpu.index)
    if measured is not None and measured + _EPS < peak_mb:
        return f"GPU {gpu.index} has {_gb(measured)} free, similar trials peaked at {_gb(peak_mb)}"
    if n_after * peak_mb > gpu.total_mb + _EPS:
        return (
            f"GPU {gpu.index} would hold {n_after} trials that peaked at {_gb(peak_mb)} each, "
            f"more than its {_gb(gpu.total_mb)}"
        )
    return None


def _decide_fraction(
    gpus: Sequence[Gpu],
    share: float,
    holders: Mapping[int, list[tuple[int, float]]],
    free: Mapping[int, float],
    peak_mb: float | None,
) -> Decision:
    slots = math.floor(1 / share + _EPS)
    fits: list[tuple[float, float, int, Gpu]] = []
    problems: list[str] = []
    for gpu in gpus:
        held = holders[gpu.index]
        load = sum(s for _, s in held)
        if any(s >= 1 for _, s in held) or len(held) >= slots or load + share > 1 + _EPS:
            continue
        problem = _memory_problem(gpu, len(held) + 1, free, peak_mb)
        if problem is not None:
            problems.append(problem)
            continue
        fits.append((load, -free.get(gpu.index, gpu.total_mb), gpu.index, gpu))
    if fits:
        return Assignment((min(fits)[3].index,), share)
    if problems:
        return GpuWait(problems[0] if len(problems) == 1 else "; ".join(problems))
    return GpuWait(f"every GPU is full ({slots} trials per GPU at {share:g} each)")


def _decide_whole(
    gpus: Sequence[Gpu],
    count: int,
    holders: Mapping[int, list[tuple[int, float]]],
    free: Mapping[int, float],
    peak_mb: float | None,
) -> Decision:
    unheld = [g for g in sorted(gpus, key=lambda g: g.index) if not holders[g.index]]
    if len(unheld) < count:
        busy = "; ".join(
            f"GPU {g.index}: trial{'s' if len(holders[g.index]) > 1 else ''} "
            + ", ".join(str(t) for t, _ in sorted(holders[g.index]))
            for g in sorted(gpus, key=lambda g: g.index)
            if holders[g.index]
        )
        return GpuWait(
            f"needs {count} free GPU{'s' if count > 1 else ''}, {len(unheld)} free ({busy})"
        )
    chosen: list[int] = []
    problems: list[str] = []
    for gpu in unheld:
        problem = _memory_problem(gpu, 1, free, peak_mb)
        if problem is None:
            chosen.append(gpu.index)
        else:
            problems.append(problem)
        if len(chosen) == count:
            return Assignment(tuple(chosen), 1.0)
    return GpuWait("; ".join(problems))


class GpuAllocator:
    """Keeps the current assignments and decides new ones.

    Args:
        gpus: GPUs trials may use, as ``Gpu`` or ``(index, total_mb)``.
    """

    def __init__(self, gpus: Iterable[Gpu | tuple[int, float]]) -> None:
        self._gpus = tuple(g if isinstance(g, Gpu) else Gpu(int(g[0]), float(g[1])) for g in gpus)
        self._assignments: dict[int, Assignment] = {}

    @property
    def gpus(self) -> tuple[Gpu, ...]:
        """The GPUs this allocator hands out."""
        return self._gpus

    @property
    def assignments(self) -> Mapping[int, Assignment]:
        """Read-only view of ``{trial_id: Assignment}``."""
        return MappingProxyType(self._assignments)

    def allocate(
        self,
        trial_id: int,
        gpus_per_trial: float,
        *,
        free_mb: Mapping[int, float] | None = None,
        peak_mb: float | None = None,
    ) -> Decision:
        """Decide for ``trial_id`` and, on success, record the assignment.

        A trial that already holds GPUs gets its assignment back unchanged. If
        the engine then fails to start the trial, it must ``release`` it.
        """
        if trial_id in self._assignments:
            return self._assignments[trial_id]
        decision = decide(self._gpus, gpus_per_trial, self._assignments, free_mb, peak_mb)
        if isinstance(decision, Assignment):
            self._assignments[trial_id] = decision
        return decision

    def adopt(self, trial_id: int, assignment: AssignmentLike) -> None:
        """Record an assignment made earlier (a live trial found after a restart)."""
        self._assignments[trial_id] = _as_assignment(assignment)

    def release(self, trial_id: int) -> Assignment | None:
        """Forget ``trial_id``'s GPUs; returns what it held (None if nothing)."""
        return self._assignments.pop(trial_id, None)

    def load(self, index: int) -> float:
        """Sum of shares held on GPU ``index`` (1.0 = full)."""
        return sum(a.share for a in self._assignments.values() if index in a.gpu_ids)


def parse_cuda_visible_devices(value: str | None, indices: Sequence[int]) -> tuple[int, ...]:
    """GPU indices the supervisor may hand out, honouring its own ``CUDA_VISIBLE_DEVICES``.

    Only plain integer lists are understood (UUIDs and MIG names are kept as
    "all of ``indices``" rather than guessed at).
    """
    if value is None:
        return tuple(indices)
    value = value.strip()
    if value == "":
        return ()
    try:
        wanted = [int(part) for part in value.split(",")]
    except ValueError:
        return tuple(indices)
    # CUDA stops at the first invalid ordinal, and so do we.
    out: list[int] = []
    for i in wanted:
        if i not in indices or i in out:
            break
        out.append(i)
    return tuple(out)
