"""A GPU source without hardware, for tests, snapshots and demos.

Values are deterministic unless a ``seed`` is given, in which case utilization
wanders reproducibly (for a lively demo that still snapshots the same way).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from tuitune.system.types import OK, GpuProcess, GpuReadout, GpuSample

NO_DEVICES = "no NVIDIA GPU (NVML found no devices)"


@dataclass
class _FakeGpu:
    """Mutable per-GPU state; only frozen ``GpuSample`` leaves this module."""

    index: int
    name: str
    mem_total_mb: float
    util_pct: float
    base_mem_mb: float = 0.0
    mig: bool = False
    error: str | None = None
    processes: dict[int, float | None] = field(default_factory=dict)
    sm_util: dict[int, float] = field(default_factory=dict)


class FakeGpuSource:
    """Same interface as ``NvmlGpuSource``: ``read()`` and ``close()``.

    Args:
        n: Number of GPUs (0 gives the "no devices" status, like NVML).
        name: Product name of every GPU.
        mem_total_mb: Memory of every GPU.
        mig: MIG-like mode: utilization and per-process memory are None.
        status: Anything but ``"ok"`` simulates NVML being unusable.
        seed: Seed for wandering utilization; None keeps values fixed.
    """

    def __init__(
        self,
        n: int = 1,
        *,
        name: str = "Fake GPU 16GB",
        mem_total_mb: float = 16384.0,
        mig: bool = False,
        status: str = OK,
        seed: int | None = None,
    ) -> None:
        self._gpus = [
            _FakeGpu(i, name, mem_total_mb, util_pct=float((10 * i) % 100), mig=mig)
            for i in range(n)
        ]
        self.status = status
        self.reads = 0
        self.closed = False
        self._rng = random.Random(seed) if seed is not None else None

    @classmethod
    def library_missing(cls, reason: str = "NVML library not found") -> FakeGpuSource:
        """A source that behaves like a machine without the NVIDIA driver."""
        return cls(0, status=f"no NVIDIA GPU ({reason})")

    # -- setters for tests and demos --------------------------------------------

    def set_processes(
        self,
        index: int,
        processes: Mapping[int, float | None],
        sm_util: Mapping[int, float] | None = None,
    ) -> None:
        """Replace GPU ``index``'s compute processes with ``{pid: memory MB}``."""
        gpu = self._gpus[index]
        gpu.processes = dict(processes)
        gpu.sm_util = dict(sm_util or {})

    def remove_process(self, pid: int) -> None:
        """Drop ``pid`` from every GPU, as when the process exits."""
        for gpu in self._gpus:
            gpu.processes.pop(pid, None)
            gpu.sm_util.pop(pid, None)

    def set_util(self, index: int, util_pct: float) -> None:
        """Fix GPU ``index``'s utilization."""
        self._gpus[index].util_pct = util_pct

    def set_base_memory(self, index: int, mem_mb: float) -> None:
        """Memory used on GPU ``index`` by something that lists no process."""
        self._gpus[index].base_mem_mb = mem_mb

    def set_mig(self, index: int, mig: bool = True) -> None:
        """Switch GPU ``index`` in or out of MIG-like mode."""
        self._gpus[index].mig = mig

    def lose(self, index: int, reason: str = "GPU is lost") -> None:
        """Make GPU ``index`` unreadable; the others keep reporting."""
        self._gpus[index].error = reason

    def recover(self, index: int) -> None:
        """Undo ``lose``."""
        self._gpus[index].error = None

    # -- the source interface -----------------------------------------------------

    def read(self) -> GpuReadout:
        """Return the current state as a frozen readout."""
        self.reads += 1
        if self.status != OK:
            return GpuReadout((), self.status)
        if not self._gpus:
            return GpuReadout((), NO_DEVICES)
        return GpuReadout(tuple(self._sample(g) for g in self._gpus), OK)

    def close(self) -> None:
        """Mark closed (tests check the sampler's owner closes its source)."""
        self.closed = True

    def _sample(self, gpu: _FakeGpu) -> GpuSample:
        uuid = f"GPU-fake-{gpu.index:04d}"
        if gpu.error is not None:
            return GpuSample(gpu.index, uuid, gpu.name, error=gpu.error)
        util = gpu.util_pct
        if self._rng is not None:
            util = min(100.0, max(0.0, util + self._rng.uniform(-15.0, 15.0)))
            gpu.util_pct = util
        procs = tuple(
            GpuProcess(
                pid,
                None if gpu.mig else mem,
                None if gpu.mig else gpu.sm_util.get(pid),
            )
            for pid, mem in sorted(gpu.processes.items())
        )
        used = gpu.base_mem_mb + sum(m for m in gpu.processes.values() if m is not None)
        return GpuSample(
            index=gpu.index,
            uuid=uuid,
            name=gpu.name,
            util_pct=None if gpu.mig else round(util, 1),
            mem_used_mb=min(used, gpu.mem_total_mb),
            mem_total_mb=gpu.mem_total_mb,
            temp_c=40.0 + gpu.index,
            power_w=None if gpu.mig else 60.0 + 2.5 * util,
            power_limit_w=300.0,
            fan_pct=None if gpu.mig else 30.0,
            processes=procs,
        )


def fake_readout(n: int = 1, **kwargs: object) -> GpuReadout:
    """One readout from a fresh ``FakeGpuSource(n, **kwargs)``."""
    return FakeGpuSource(n, **kwargs).read()  # type: ignore[arg-type]
