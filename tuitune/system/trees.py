"""Trial process trees and what each holds: pids, CPU and resident memory.

A tree is the trial's root process, if it is still the process recorded as
(pid, create time), and every descendant that started after it. CPU percent is
the CPU time a process used since the previous sample over the wall time in
between, so the first sample of a process reads 0% (psutil's rule too).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tuitune.system.host import CREATE_TIME_TOLERANCE_S, same_start
from tuitune.system.proctable import ProcRow, ProcTable, default_table
from tuitune.system.types import ProcessIdentity

_MB = 1024.0 * 1024.0


@dataclass(frozen=True, slots=True)
class TreeUsage:
    """One tree at one sample.

    Attributes:
        members: Every pid of the tree the scan saw, zombies included, root
            first: NVML may still list a process that has just exited.
        pids: The live ones (zombies are not live).
        cpu_pct: Summed CPU in percent of one core (may exceed 100).
        rss_mb: Summed resident memory.
    """

    members: tuple[int, ...] = ()
    pids: tuple[int, ...] = ()
    cpu_pct: float = 0.0
    rss_mb: float = 0.0


EMPTY = TreeUsage()


class ProcessTrees:
    """Measures trial trees from one ``ProcTable`` scan per sample.

    Args:
        table: The process table reader; ``/proc`` on Linux, psutil elsewhere.
        clock: Monotonic seconds, for the wall time between CPU readings.
    """

    def __init__(self, table: ProcTable | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._table = table if table is not None else default_table()
        self._clock = clock
        self._now = 0.0
        # (pid, start) -> (cpu seconds, when read): the CPU baseline of each process.
        self._last_cpu: dict[tuple[int, float], tuple[float, float]] = {}
        self._read_cpu: dict[tuple[int, float], tuple[float, float]] = {}

    def refresh(self) -> None:
        """Scan the process table; call once per sample, before ``usage``."""
        self._table.scan()
        self._now = self._clock()
        # Baselines of processes no tree reached last sample are dropped.
        self._last_cpu, self._read_cpu = self._read_cpu, {}

    def usage(self, identity: ProcessIdentity) -> TreeUsage:
        """The tree rooted at ``identity``; ``EMPTY`` when that process is gone."""
        root = self._table.row(identity.pid)
        if root is None or not same_start(identity.create_time, root.start):
            return EMPTY
        members, pids = [], []
        cpu = rss = 0.0
        stack: list[tuple[int, ProcRow]] = [(identity.pid, root)]
        seen = {identity.pid}
        while stack:
            pid, row = stack.pop()
            members.append(pid)
            if not row.zombie:
                pids.append(pid)
                cpu += self._cpu_pct(pid, row)
                rss += row.rss
            for child in self._table.children(pid):
                child_row = self._table.row(child)
                # The table's parents may be as old as its last full scan: the row
                # is fresh, and a pid reused outside the tree has a parent outside
                # it (an orphan reparented to a tree member stays). A "child" older
                # than the root is a reused pid too (psutil's rule).
                if (child_row is None or child in seen or child_row.ppid not in seen
                        or child_row.start + CREATE_TIME_TOLERANCE_S < root.start):
                    continue
                seen.add(child)
                stack.append((child, child_row))
        return TreeUsage(tuple(members), tuple(pids), cpu, rss / _MB)

    def _cpu_pct(self, pid: int, row: ProcRow) -> float:
        if not row.readable:
            return 0.0
        key = (pid, row.start)
        last = self._last_cpu.get(key)
        self._read_cpu[key] = (row.cpu_s, self._now)
        if last is None or self._now <= last[1]:
            return 0.0
        return max(0.0, 100.0 * (row.cpu_s - last[0]) / (self._now - last[1]))
