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
from types import MappingProxyType

from tuitune.system import (
    GpuSource,
    HostSample,
    ProcessIdentity,
    SystemSampler,
    SystemSnapshot,
    TrialUsage,
)
from tuitune.system.sampler import HOST_CPU_KEY, HOST_RAM_KEY, TIME_KEY
from tuitune.ui.procs import GpuProc, ProcessInspector

HISTORY = 120
#: A full walk of the trials' process trees every this many samples (see _snapshot).
SCAN_EVERY = 3


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
        self._count = 0
        self._scanned_roots: frozenset[int] = frozenset()
        self._known_pids: set[int] = set()
        self._owners: dict[int, int] = {}
        self._usage: dict[int, TrialUsage] = {}
        #: Read each GPU process's details (the GPU screen is open); set from any thread.
        self.describe_processes = False

    def sample(self, roots: Mapping[int, ProcessIdentity]) -> SystemView:
        snapshot = self._snapshot(roots)
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

    def _snapshot(self, roots: Mapping[int, ProcessIdentity]) -> SystemSnapshot:
        """A sample whose GPU processes are attributed to trials.

        Walking the trial process trees is most of a sample's cost, and the answer
        rarely changes: it is done every SCAN_EVERY samples, at once when a GPU
        process appears that was not seen before or the set of trials changes, and
        never while no GPU process runs. In between, the last attribution is reused.
        """
        self._count += 1
        keys = frozenset(roots)
        scan = bool(roots) and self._gpu_procs and (
            self._count % SCAN_EVERY == 0 or keys != self._scanned_roots)
        snapshot = self._sampler.sample(roots if scan else {})
        pids = {p.pid for gpu in snapshot.gpus for p in gpu.processes}
        if not scan and roots and pids and not pids <= self._known_pids:
            scan = True  # a new GPU process: attribute it now, not in three seconds
            snapshot = self._sampler.sample(roots)
        self._gpu_procs = bool(pids)
        if scan:
            self._scanned_roots = keys
            self._known_pids = pids
            self._owners = dict(snapshot.gpu_owners)
            self._usage = dict(snapshot.trials)
            return snapshot
        if not roots:
            return snapshot
        return _reattribute(snapshot, self._owners, self._usage, roots)

    def close(self) -> None:
        self._sampler.close()


def _reattribute(snapshot: SystemSnapshot, owners: Mapping[int, int],
                 usage: Mapping[int, TrialUsage], roots: Mapping[int, ProcessIdentity]
                 ) -> SystemSnapshot:
    """Give a snapshot taken without a tree walk the last walk's owners: GPU ids and
    memory per trial from this sample, CPU and RSS from the walk."""
    gpu_owners: dict[int, int] = {}
    orphans = []
    ids: dict[int, set[int]] = {}
    mem: dict[int, float | None] = {}
    for gpu in snapshot.gpus:
        for proc in gpu.processes:
            tid = owners.get(proc.pid)
            if tid is None:
                orphans.append((gpu.index, proc))
                continue
            gpu_owners[proc.pid] = tid
            ids.setdefault(tid, set()).add(gpu.index)
            if proc.used_memory_mb is None or mem.get(tid, 0.0) is None:
                mem[tid] = None
            else:
                mem[tid] = (mem.get(tid) or 0.0) + proc.used_memory_mb
    trials = {}
    for tid in roots:
        old = usage.get(tid)
        trials[tid] = TrialUsage(
            trial_id=tid, pids=old.pids if old else (), cpu_pct=old.cpu_pct if old else 0.0,
            rss_mb=old.rss_mb if old else 0.0, gpu_ids=tuple(sorted(ids.get(tid, ()))),
            gpu_mem_mb=mem.get(tid, 0.0) if snapshot.gpu_status == "ok" else None)
    return dataclasses.replace(snapshot, gpu_owners=MappingProxyType(gpu_owners),
                               orphans=tuple(orphans), trials=MappingProxyType(trials))


def _pad(values: tuple[float, ...], n: int) -> tuple[float, ...]:
    first = next((v for v in values if not math.isnan(v)), math.nan)
    return (first,) * (n - len(values)) + values
