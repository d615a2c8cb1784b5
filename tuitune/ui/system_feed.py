"""One sample of the machine for the UI: GPUs, host, trial usage, GPU processes.

A thin adapter: `SystemSampler` owns NVML, the host and the trial trees (every
sample walks every tree: that costs a few ms with /proc), and `ProcessInspector`
describes GPU processes. What only the UI needs is here: the view it draws, and
for snapshots a history padded to full length. No Textual.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tuitune.system import GpuSource, HostSample, ProcessIdentity, SystemSampler, SystemSnapshot
from tuitune.system.gpu_procs import GpuProc, ProcessInspector
from tuitune.system.sampler import TIME_KEY

HISTORY = 120


@dataclass(frozen=True)
class SystemView:
    """What the system panels draw."""

    snapshot: SystemSnapshot
    history: Mapping[str, tuple[float, ...]]
    processes: tuple[GpuProc, ...]


class SystemFeed:
    """Samples the machine; call `sample()` from one worker thread.

    Args:
        gpu_source: `NvmlGpuSource` or `FakeGpuSource`.
        clock: Wall clock for snapshot times.
        host: Injected host reading (tests, snapshots); None reads psutil.
        steady: Pad histories on the left with their first value, so a constant
            source draws the same picture from the first sample on (snapshots).
    """

    def __init__(self, gpu_source: GpuSource, clock: Callable[[], float] = time.time,
                 host: Callable[[], HostSample] | None = None, steady: bool = False,
                 history: int = HISTORY) -> None:
        self._sampler = SystemSampler(gpu_source, clock=clock, history=history, host=host)
        self._steady = steady
        self._len = history
        self._inspector = ProcessInspector()
        #: Read each GPU process's details (the GPU screen is open); set from any thread.
        self.describe_processes = False

    def sample(self, roots: Mapping[int, ProcessIdentity]) -> SystemView:
        snapshot = self._sampler.sample(roots)
        history = self._sampler.history()
        if self._steady:
            history = {k: _pad(v, self._len) for k, v in history.items() if k != TIME_KEY}
        procs = self._inspector.describe(snapshot) if self.describe_processes else ()
        return SystemView(snapshot, history, procs)

    def close(self) -> None:
        self._sampler.close()


def _pad(values: tuple[float, ...], n: int) -> tuple[float, ...]:
    first = next((v for v in values if not math.isnan(v)), math.nan)
    return (first,) * (n - len(values)) + values
