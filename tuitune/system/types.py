"""Frozen records that cross every boundary of the sampling layer.

Everything here is plain data: no psutil, no NVML. ``None`` in a field always
means "not available on this machine or this GPU", never zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

OK = "ok"
"""The ``status`` of a readout in which NVML answered."""


@dataclass(frozen=True, slots=True)
class GpuProcess:
    """A compute process seen on a GPU.

    Attributes:
        pid: Host PID as NVML reports it (inside a container without
            ``--pid=host`` this is not a PID of our namespace).
        used_memory_mb: GPU memory held by the process; None on MIG/WDDM.
        sm_util: Recent SM utilization of the process in percent, or None.
    """

    pid: int
    used_memory_mb: float | None = None
    sm_util: float | None = None


@dataclass(frozen=True, slots=True)
class GpuSample:
    """One GPU at one moment. ``error`` is set when the whole GPU is unreadable."""

    index: int
    uuid: str
    name: str
    util_pct: float | None = None
    mem_used_mb: float | None = None
    mem_total_mb: float | None = None
    temp_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    fan_pct: float | None = None
    processes: tuple[GpuProcess, ...] = ()
    error: str | None = None

    @property
    def mem_pct(self) -> float | None:
        """Used memory as a percentage of total, or None if either is unknown."""
        if self.mem_used_mb is None or not self.mem_total_mb:
            return None
        return 100.0 * self.mem_used_mb / self.mem_total_mb

    @property
    def mem_free_mb(self) -> float | None:
        """Free memory in MB, or None if unknown."""
        if self.mem_used_mb is None or self.mem_total_mb is None:
            return None
        return max(0.0, self.mem_total_mb - self.mem_used_mb)


@dataclass(frozen=True, slots=True)
class GpuReadout:
    """What a GPU source returns: the GPUs, and ``"ok"`` or a calm one-line reason."""

    gpus: tuple[GpuSample, ...]
    status: str = OK

    @property
    def ok(self) -> bool:
        """True when NVML answered (individual GPUs may still carry errors)."""
        return self.status == OK


@dataclass(frozen=True, slots=True)
class HostSample:
    """Host CPU and RAM. ``cpu_pct`` is 0-100 over all cores."""

    cpu_pct: float
    ncpu: int
    ram_used_mb: float
    ram_total_mb: float

    @property
    def ram_pct(self) -> float:
        """Used RAM as a percentage of total."""
        return 100.0 * self.ram_used_mb / self.ram_total_mb if self.ram_total_mb else 0.0


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """A process as (pid, create_time): a pid alone may have been reused."""

    pid: int
    create_time: float


@dataclass(frozen=True, slots=True)
class TrialUsage:
    """Resources held by one trial's process tree.

    Attributes:
        trial_id: The trial.
        pids: Live pids of the tree, root first; empty when the root is gone
            (exited, or its pid now belongs to another process).
        cpu_pct: Sum of per-process CPU, in percent of one core (may exceed 100).
        rss_mb: Sum of resident memory.
        gpu_ids: GPU indices on which a process of the tree holds a context.
        gpu_mem_mb: GPU memory held by the tree; 0.0 if it holds none, None if
            GPUs cannot be read or a process's memory is not reported (MIG).
    """

    trial_id: int
    pids: tuple[int, ...]
    cpu_pct: float
    rss_mb: float
    gpu_ids: tuple[int, ...] = ()
    gpu_mem_mb: float | None = None


@dataclass(frozen=True, slots=True)
class SystemSnapshot:
    """Everything one ``SystemSampler.sample()`` saw, at time ``t``.

    ``orphans`` are ``(gpu_index, process)`` pairs for GPU compute processes
    that belong to no live trial tree (other users, leaked workers, ...);
    ``gpu_owners`` maps the pid of every other GPU process to its trial.
    """

    t: float
    gpu_status: str
    gpus: tuple[GpuSample, ...]
    host: HostSample
    trials: Mapping[int, TrialUsage]
    orphans: tuple[tuple[int, GpuProcess], ...] = ()
    gpu_owners: Mapping[int, int] = field(default_factory=lambda: MappingProxyType({}))

    def age(self, now: float) -> float:
        """Seconds since this snapshot was taken (same clock as ``t``)."""
        return now - self.t


class GpuSource(Protocol):
    """Anything that reads GPUs: ``NvmlGpuSource`` or ``FakeGpuSource``."""

    def read(self) -> GpuReadout:
        """Return the current readout. Must never raise."""
        ...

    def close(self) -> None:
        """Release the underlying library, if any."""
        ...
