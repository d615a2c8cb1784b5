"""Host CPU/RAM and process identities, through psutil.

A process is only trusted when its create time matches the identity the engine
recorded: a pid alone may have been reused. Trial trees are in ``trees.py``.
"""

from __future__ import annotations

import threading
from typing import Any

import psutil

from tuitune.system.types import HostSample, ProcessIdentity

#: How far two readings of one process's create time may differ. Linux counts start
#: times in clock ticks (1/100 s), so processes that start in different ticks differ
#: by at least 0.01 s, while two readings of one process (psutil, or our own
#: /proc reader) differ only by float rounding; half a tick separates the two cases
#: with margin on both sides. (macOS gives microseconds, finer still.)
CREATE_TIME_TOLERANCE_S = 0.005
_MB = 1024.0 * 1024.0
_UNREADABLE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


def same_start(recorded: float, observed: float) -> bool:
    """True if two create times are the same process start (see the tolerance)."""
    return abs(recorded - observed) <= CREATE_TIME_TOLERANCE_S


def identify(pid: int) -> ProcessIdentity | None:
    """Return the (pid, create_time) identity of a live process, or None."""
    try:
        return ProcessIdentity(pid, psutil.Process(pid).create_time())
    except _UNREADABLE:
        return None


class HostProbe:
    """Host CPU and RAM.

    Keeps its own ``cpu_times`` baseline: ``psutil.cpu_percent(None)`` keys
    its baseline by thread, and Textual thread workers run on a new thread
    each time, which would make every reading 0%.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ncpu = psutil.cpu_count() or 1
        self._last = _busy_total(psutil.cpu_times())
        self._last_pct = 0.0

    def sample(self) -> HostSample:
        """CPU % over all cores since the previous call, and RAM in use."""
        with self._lock:
            busy, total = _busy_total(psutil.cpu_times())
            d_busy, d_total = busy - self._last[0], total - self._last[1]
            if d_total > 0:  # two calls within one clock tick keep the last value
                self._last_pct = min(100.0, max(0.0, 100.0 * d_busy / d_total))
                self._last = (busy, total)
            cpu_pct = self._last_pct
        vm = psutil.virtual_memory()
        # total - available, not vm.used: page cache the kernel can drop is not "used".
        return HostSample(
            cpu_pct=round(cpu_pct, 1),
            ncpu=self._ncpu,
            ram_used_mb=(vm.total - vm.available) / _MB,
            ram_total_mb=vm.total / _MB,
        )


def _busy_total(times: Any) -> tuple[float, float]:
    total = sum(times)
    # On Linux guest time is already counted in user/nice (psutil does the same).
    total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    idle = times.idle + getattr(times, "iowait", 0.0)
    return total - idle, total
