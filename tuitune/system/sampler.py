"""One call, one frozen picture: GPUs, host, and what each trial holds.

``SystemSampler.sample()`` is meant to run about once a second off the draw
path (a Textual thread worker, or the supervisor loop). It maps every GPU
compute process to the trial whose process tree contains its pid; the rest are
``orphans``. It also keeps a short history on a fixed 0-100 scale, because
Textual's Sparkline auto-scales and would draw 97-100% as a full-range zigzag.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from types import MappingProxyType

from tuitune.system.host import HostProbe
from tuitune.system.trees import ProcessTrees, TreeUsage
from tuitune.system.types import (
    GpuProcess,
    GpuReadout,
    GpuSource,
    HostSample,
    ProcessIdentity,
    SystemSnapshot,
    TrialUsage,
)

DEFAULT_MAX_AGE_S = 3.0


def gpu_util_key(index: int) -> str:
    """History key of GPU ``index``'s utilization series."""
    return f"gpu{index}.util"


def gpu_mem_key(index: int) -> str:
    """History key of GPU ``index``'s memory series."""
    return f"gpu{index}.mem"


HOST_CPU_KEY = "host.cpu"
HOST_RAM_KEY = "host.ram"
TIME_KEY = "t"


class SystemSampler:
    """Samples GPUs, the host and trial process trees into ``SystemSnapshot``s.

    Args:
        gpu_source: ``NvmlGpuSource`` or ``FakeGpuSource``.
        clock: Wall clock for snapshot times, injected for determinism.
        history: Number of samples kept per series.
        host: Host CPU/RAM reading, injected for tests and snapshots; None
            reads psutil.
        trees: Trial tree reader, injected for tests; None picks ``/proc``
            where it is readable, psutil elsewhere.
    """

    def __init__(
        self,
        gpu_source: GpuSource,
        clock: Callable[[], float] = time.time,
        history: int = 120,
        host: Callable[[], HostSample] | None = None,
        trees: ProcessTrees | None = None,
    ) -> None:
        self._gpu = gpu_source
        self._clock = clock
        self._host = host if host is not None else HostProbe().sample
        self._trees = trees if trees is not None else ProcessTrees()
        self._lock = threading.Lock()
        self._maxlen = history
        self._series: dict[str, deque[float]] = {}
        self._latest: SystemSnapshot | None = None

    @property
    def latest(self) -> SystemSnapshot | None:
        """The most recent snapshot, or None before the first ``sample()``."""
        return self._latest

    def sample(self, trial_roots: Mapping[int, ProcessIdentity] | None = None) -> SystemSnapshot:
        """Take one snapshot.

        Args:
            trial_roots: ``{trial_id: identity of the trial's root process}``.

        Returns:
            A frozen snapshot; never raises for vanished processes or GPU errors.
        """
        with self._lock:
            t = self._clock()
            readout = self._gpu.read()
            host = self._host()
            if trial_roots:  # the process-table scan is most of the cost
                self._trees.refresh()
            owner: dict[int, int] = {}
            usage: dict[int, TreeUsage] = {}
            for trial_id, identity in (trial_roots or {}).items():
                tree = usage[trial_id] = self._trees.usage(identity)
                for pid in tree.members:  # zombies too: NVML may still list them
                    owner.setdefault(pid, trial_id)
            trials, orphans, gpu_owners = _attribute(readout, owner, usage)
            snapshot = SystemSnapshot(
                t=t,
                gpu_status=readout.status,
                gpus=readout.gpus,
                host=host,
                trials=MappingProxyType(trials),
                orphans=orphans,
                gpu_owners=MappingProxyType(gpu_owners),
            )
            self._record(snapshot)
            self._latest = snapshot
            return snapshot

    def history(self) -> dict[str, tuple[float, ...]]:
        """Per-series history, oldest first, all series the same length.

        Keys: ``"t"`` (snapshot times), ``"host.cpu"``, ``"host.ram"``,
        ``"gpu<i>.util"`` and ``"gpu<i>.mem"``; values are percent on a fixed
        0-100 scale, NaN where the value was not available (MIG, lost GPU).
        """
        with self._lock:
            return {key: tuple(values) for key, values in self._series.items()}

    def close(self) -> None:
        """Close the GPU source."""
        self._gpu.close()

    def _record(self, snap: SystemSnapshot) -> None:
        points: dict[str, float] = {
            TIME_KEY: snap.t,
            HOST_CPU_KEY: snap.host.cpu_pct,
            HOST_RAM_KEY: snap.host.ram_pct,
        }
        for gpu in snap.gpus:
            points[gpu_util_key(gpu.index)] = _pct(gpu.util_pct)
            points[gpu_mem_key(gpu.index)] = _pct(gpu.mem_pct)
        length = len(self._series.get(TIME_KEY, ()))
        for key, value in points.items():
            series = self._series.get(key)
            if series is None:  # a GPU that appeared late: pad so series line up
                series = deque([math.nan] * length, maxlen=self._maxlen)
                self._series[key] = series
            series.append(value)
        for key, series in self._series.items():
            if key not in points:  # a GPU that disappeared: keep time aligned
                series.append(math.nan)


def is_stale(
    snapshot: SystemSnapshot | None, now: float, max_age: float = DEFAULT_MAX_AGE_S
) -> bool:
    """True when there is no snapshot or it is older than ``max_age`` seconds."""
    return snapshot is None or snapshot.age(now) > max_age


def _pct(value: float | None) -> float:
    return math.nan if value is None else min(100.0, max(0.0, value))


def _attribute(
    readout: GpuReadout,
    owner: Mapping[int, int],
    usage: Mapping[int, TreeUsage],
) -> tuple[dict[int, TrialUsage], tuple[tuple[int, GpuProcess], ...], dict[int, int]]:
    """Give each GPU process to the trial that owns its pid, or to the orphans."""
    gpu_owners: dict[int, int] = {}
    gpu_ids: dict[int, set[int]] = defaultdict(set)
    gpu_mem: dict[int, float] = defaultdict(float)
    mem_unknown: set[int] = set()
    orphans: list[tuple[int, GpuProcess]] = []
    for gpu in readout.gpus:
        for proc in gpu.processes:
            trial_id = owner.get(proc.pid)
            if trial_id is None:
                orphans.append((gpu.index, proc))
                continue
            gpu_ids[trial_id].add(gpu.index)
            gpu_owners[proc.pid] = trial_id
            if proc.used_memory_mb is None:
                mem_unknown.add(trial_id)
            else:
                gpu_mem[trial_id] += proc.used_memory_mb
    trials = {}
    for trial_id, tree in usage.items():
        known = readout.ok and trial_id not in mem_unknown
        trials[trial_id] = TrialUsage(
            trial_id=trial_id,
            pids=tree.pids,
            cpu_pct=round(tree.cpu_pct, 1),
            rss_mb=tree.rss_mb,
            gpu_ids=tuple(sorted(gpu_ids.get(trial_id, ()))),
            gpu_mem_mb=gpu_mem.get(trial_id, 0.0) if known else None,
        )
    return trials, tuple(orphans), gpu_owners
