"""GPU assignment for trials: CUDA_VISIBLE_DEVICES per trial, decided by the
allocator in gpu_alloc (pure), fed with what the system sampler sees."""

from __future__ import annotations

from collections.abc import Sequence

from tuitune.spec import Resources


class GpuScheduler:
    """Decides each trial's GPUs. `assign` returns the GPU indices (empty: no GPU),
    None when the trial must wait (see `why_waiting`)."""

    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.why_waiting = ""
        self._assigned: dict[int, tuple[int, ...]] = {}

    def assign(self, trial_id: int) -> Sequence[int] | None:
        if self.resources.gpus_per_trial == 0:
            return ()
        return ()

    def restore(self, trial_id: int, gpus: str | None) -> None:
        if gpus:
            self._assigned[trial_id] = tuple(int(g) for g in gpus.split(","))

    def release(self, trial_id: int) -> None:
        self._assigned.pop(trial_id, None)
