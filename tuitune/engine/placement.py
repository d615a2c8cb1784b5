"""GPU placement, the supervisor's part that decides where trials run and watches GPUs.

It owns the GPU scheduler (engine/gpus.py: assignments, peaks, release watches) and the
sampling cadence, and records what it learns (a trial's peak GPU memory, memory given
back or leaked) in the store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

from tuitune.core.spec import Spec
from tuitune.engine.gpu_alloc import Assignment, GpuWait
from tuitune.engine.gpus import GpuScheduler
from tuitune.executors import TrialHandle
from tuitune.store import RunStore
from tuitune.system import GpuSource, ProcessIdentity

SAMPLE_INTERVAL = 1.0  # seconds between GPU samples


class GpuPlacement:
    def __init__(self, store: RunStore, spec: Spec, gpu_source: GpuSource | None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        # Remote executors place trials on their nodes' GPUs themselves.
        self.scheduler = GpuScheduler(spec.resources, gpu_source, clock,
                                      os.environ.get("CUDA_VISIBLE_DEVICES"),
                                      local=spec.executor == "local")
        self._last_sample = 0.0

    def assign(self, trial_id: int) -> Assignment | GpuWait:
        """GPUs for a trial about to start (sized like the largest trial so far)."""
        return self.scheduler.assign(trial_id, self.scheduler.peak_mb())

    def restore(self, trial_id: int, gpus: str | None) -> None:
        """An adopted trial keeps the GPUs recorded for it."""
        self.scheduler.restore(trial_id, gpus)

    def release(self, trial_id: int, handle: TrialHandle | None) -> None:
        """The trial's GPUs are free; its processes are watched until their memory is."""
        pids = frozenset({handle.pid, *(p for p, _ in handle.descendants)}) if handle else (
            frozenset())
        self.scheduler.release(trial_id, pids)

    def watch(self, now: float, handles: Mapping[int, TrialHandle]) -> None:
        """About once a second: sample, record grown peaks; then record GPU events."""
        if self.scheduler.has_gpus and now - self._last_sample >= SAMPLE_INTERVAL:
            self._last_sample = now
            roots = {tid: ProcessIdentity(h.pid, h.pid_start) for tid, h in handles.items()}
            for tid, peak in self.scheduler.sample(roots).items():
                self.store.update_trial(tid, peak_gpu_mem_mb=peak)
        while self.scheduler.events:
            trial_id, kind, message = self.scheduler.events.pop(0)
            self.store.add_event(kind, "engine", message, trial_id=trial_id)

    def sample_now(self) -> None:
        """The next `watch` samples, however recent the last sample (tests)."""
        self._last_sample = 0.0
