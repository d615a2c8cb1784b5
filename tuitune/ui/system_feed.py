"""One sample of the machine for the UI: GPUs, host, trial usage, GPU processes.

Wraps `SystemSampler` (which owns NVML and psutil) and adds what only the UI
needs: a description of each GPU process and, for deterministic tests and
snapshots, an injected host reading and a history padded to full length.
No Textual.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tuitune.system import (
    GpuSource,
    HostSample,
    ProcessIdentity,
    SystemSampler,
    SystemSnapshot,
)
from tuitune.system.sampler import HOST_CPU_KEY, HOST_RAM_KEY, TIME_KEY
from tuitune.ui.procs import GpuProc, ProcessInspector

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
        self._sampler = SystemSampler(gpu_source, clock=clock, history=history)
        self._host = host
        self._steady = steady
        self._len = history
        self._host_hist = {HOST_CPU_KEY: deque(maxlen=history),
                           HOST_RAM_KEY: deque(maxlen=history)}
        self._inspector = ProcessInspector()
        self._gpu_procs = True
        #: Read each GPU process's details (the GPU screen is open); set from any thread.
        self.describe_processes = False

    def sample(self, roots: Mapping[int, ProcessIdentity]) -> SystemView:
        # Trial process trees only matter to attribute GPU processes to trials, and
        # scanning them is most of a sample's cost: skip it while no GPU process runs.
        snapshot = self._sampler.sample(roots if self._gpu_procs else {})
        has_procs = any(gpu.processes for gpu in snapshot.gpus)
        if has_procs and not self._gpu_procs and roots:
            snapshot = self._sampler.sample(roots)  # appeared just now: attribute them
        self._gpu_procs = has_procs
        history = self._sampler.history()
        if self._host is not None:
            host = self._host()
            snapshot = dataclasses.replace(snapshot, host=host)
            self._host_hist[HOST_CPU_KEY].append(host.cpu_pct)
            self._host_hist[HOST_RAM_KEY].append(host.ram_pct)
            history.update({k: tuple(v) for k, v in self._host_hist.items()})
        if self._steady:
            history = {k: _pad(v, self._len) for k, v in history.items() if k != TIME_KEY}
        procs = self._inspector.describe(snapshot) if self.describe_processes else ()
        return SystemView(snapshot, history, procs)

    def close(self) -> None:
        self._sampler.close()


def _pad(values: tuple[float, ...], n: int) -> tuple[float, ...]:
    first = next((v for v in values if not math.isnan(v)), math.nan)
    return (first,) * (n - len(values)) + values
