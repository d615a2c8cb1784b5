"""GPU scheduling for the supervisor: which GPUs each trial gets, its peak GPU
memory, and whether a finished trial gave its memory back.

The decisions come from gpu_alloc (pure); this module feeds it what the system
sampler sees and keeps the little state the supervisor needs between ticks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tuitune.engine.gpu_alloc import Assignment, GpuAllocator, GpuWait, parse_cuda_visible_devices
from tuitune.core.spec import Resources
from tuitune.system import GpuReadout, GpuSource, ProcessIdentity, SystemSampler, SystemSnapshot

RELEASE_TIMEOUT = 15.0  # seconds after a trial ends before its held GPU memory is a leak


class _NoLocalGpus:
    """The GPU source for remote executors: their nodes place trials on GPUs."""

    def read(self) -> GpuReadout:
        return GpuReadout((), "trials run on remote nodes; their GPUs are theirs to assign")

    def close(self) -> None:
        pass


@dataclass
class _ReleaseWatch:
    trial_id: int
    pids: frozenset[int]
    deadline: float


class GpuScheduler:
    """Assigns GPUs and watches GPU memory. `events` collects (trial_id, kind, message)
    lines for the supervisor to record."""

    def __init__(self, resources: Resources, gpu_source: GpuSource | None = None,
                 clock: Callable[[], float] = time.time, visible: str | None = None,
                 local: bool = True) -> None:
        if not local:  # trials run elsewhere: nothing here to see or to gate on
            gpu_source = _NoLocalGpus()
        if gpu_source is None:
            from tuitune.system import NvmlGpuSource

            gpu_source = NvmlGpuSource()
        self.resources = resources
        self.clock = clock
        self.sampler = SystemSampler(gpu_source, clock=clock)
        self.snapshot: SystemSnapshot = self.sampler.sample({})
        indices = [g.index for g in self.snapshot.gpus if g.error is None]
        usable = parse_cuda_visible_devices(visible, indices)
        if resources.gpus is not None:
            usable = tuple(i for i in usable if i in resources.gpus)
        self.allocator = GpuAllocator([(g.index, g.mem_total_mb or 0.0)
                                       for g in self.snapshot.gpus if g.index in usable])
        self.events: list[tuple[int | None, str, str]] = []
        self._watches: list[_ReleaseWatch] = []
        self._peaks: dict[int, float] = {}
        if local and not self.has_gpus and (resources.gpus_per_trial or 0) > 0:
            self.events.append((None, "no_gpu", f"{self.snapshot.gpu_status}: trials run "
                                "without a GPU"))

    @property
    def has_gpus(self) -> bool:
        return bool(self.allocator.gpus)

    def _share(self) -> float:
        share = self.resources.gpus_per_trial
        if share is None:  # not set in the spec: a whole GPU each where there are GPUs
            return 1.0 if self.has_gpus else 0.0
        return share if self.has_gpus else 0.0

    def assign(self, trial_id: int, peak_mb: float | None) -> Assignment | GpuWait:
        """GPUs for a trial about to start, or why it must wait."""
        free = {g.index: g.mem_free_mb for g in self.snapshot.gpus
                if g.mem_free_mb is not None}
        peak = peak_mb if peak_mb is not None else self.resources.gpu_memory_mb
        return self.allocator.allocate(trial_id, self._share(), free_mb=free or None,
                                       peak_mb=peak)

    def restore(self, trial_id: int, gpus: str | None) -> None:
        """Re-record the GPUs of a trial adopted after a supervisor restart."""
        if gpus:
            ids = tuple(int(g) for g in gpus.split(","))
            self.allocator.adopt(trial_id, (ids, min(self._share() or 1.0, 1.0)))

    def release(self, trial_id: int, pids: frozenset[int] = frozenset()) -> None:
        held = self.allocator.release(trial_id)
        if held and held.gpu_ids and pids:
            self._watches.append(_ReleaseWatch(trial_id, pids, self.clock() + RELEASE_TIMEOUT))

    def peak_mb(self) -> float | None:
        """The largest GPU memory any trial of this run has used: the size of a
        'similar trial' when packing GPUs."""
        return max(self._peaks.values(), default=None)

    def sample(self, roots: Mapping[int, ProcessIdentity]) -> dict[int, float]:
        """Take a sample; returns {trial_id: new peak MB} for trials whose peak grew."""
        self.snapshot = self.sampler.sample(roots)
        grown: dict[int, float] = {}
        for tid, usage in self.snapshot.trials.items():
            mem = usage.gpu_mem_mb
            if mem and mem > self._peaks.get(tid, 0.0):
                self._peaks[tid] = grown[tid] = mem
        self._check_releases()
        return grown

    def _check_releases(self) -> None:
        on_gpu = {p.pid: (g.index, p.used_memory_mb) for g in self.snapshot.gpus
                  for p in g.processes}
        now = self.clock()
        for watch in list(self._watches):
            holding = [(pid, *on_gpu[pid]) for pid in watch.pids if pid in on_gpu]
            if not holding:
                self._watches.remove(watch)
                self.events.append((watch.trial_id, "gpu_released",
                                    f"trial {watch.trial_id}: its GPU memory was released"))
            elif now >= watch.deadline:
                self._watches.remove(watch)
                where = ", ".join(f"pid {pid} holds {mb or '?'} MB on GPU {gpu}"
                                  for pid, gpu, mb in holding)
                self.events.append((watch.trial_id, "gpu_leak",
                                    f"trial {watch.trial_id} ended but {where}"))

    def close(self) -> None:
        self.sampler.close()
