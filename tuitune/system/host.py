"""Host CPU/RAM and trial process trees, through psutil.

Processes vanish at any moment (a trial exits, a dataloader worker is reaped),
so every per-process read tolerates ``NoSuchProcess``, ``ZombieProcess`` and
``AccessDenied``. A process is only trusted when its create time matches the
identity the engine recorded: a pid alone may have been reused.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import psutil

from tuitune.system.types import HostSample, ProcessIdentity

CREATE_TIME_TOLERANCE_S = 0.01
_MB = 1024.0 * 1024.0
_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess)
_UNREADABLE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


def identify(pid: int) -> ProcessIdentity | None:
    """Return the (pid, create_time) identity of a live process, or None."""
    try:
        return ProcessIdentity(pid, psutil.Process(pid).create_time())
    except _UNREADABLE:
        return None


def children_map() -> dict[int, list[int]]:
    """Map each pid to its child pids, from one scan of all processes."""
    # psutil's own Process.children() uses this private helper; it reads one
    # file per process, about 4x cheaper than process_iter(["ppid"]).
    ppid_map = getattr(psutil, "_ppid_map", None)
    if ppid_map is not None:
        parents = ppid_map()
    else:  # pragma: no cover - psutil without the helper
        parents = {p.pid: p.info["ppid"] for p in psutil.process_iter(["ppid"])}
    children: dict[int, list[int]] = defaultdict(list)
    for pid, ppid in parents.items():
        if pid != ppid:
            children[ppid].append(pid)
    return children


def tree_usage(procs: Iterable[psutil.Process]) -> tuple[tuple[int, ...], float, float]:
    """Sum CPU and RSS over ``procs``, skipping those that vanished.

    Returns:
        (live pids, cpu percent of one core, rss MB); zombies are not live.
        The first call on a
        ``psutil.Process`` object reports 0% CPU: it has no baseline yet.
    """
    pids: list[int] = []
    cpu = rss = 0.0
    for proc in procs:
        try:
            with proc.oneshot():
                proc_rss = proc.memory_info().rss
                # Zombies (exited, not yet reaped) hold nothing; only they and
                # kernel threads have no pages, so status() is read only then.
                if proc_rss == 0 and proc.status() == psutil.STATUS_ZOMBIE:
                    continue
                proc_cpu = proc.cpu_percent(interval=None)
        except _GONE:
            continue
        except psutil.AccessDenied:
            pids.append(proc.pid)  # alive but not ours to read
            continue
        pids.append(proc.pid)
        cpu += max(0.0, proc_cpu)
        rss += proc_rss
    return tuple(pids), cpu, rss / _MB


class ProcessTable:
    """Caches ``psutil.Process`` objects between samples.

    ``cpu_percent`` is measured against the previous call on the *same*
    object, so the objects must live as long as the trials do.
    """

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}
        self._children: dict[int, list[int]] = {}

    def refresh(self) -> None:
        """Rescan the process table; call once per sample, before ``process_tree``."""
        self._children = children_map()
        alive = set(self._children)
        for kids in self._children.values():
            alive.update(kids)
        for pid in [pid for pid in self._procs if pid not in alive]:
            del self._procs[pid]

    def process_tree(self, identity: ProcessIdentity) -> list[psutil.Process]:
        """The root (if it is still ``identity``) followed by all its descendants."""
        root = self._get(identity.pid)
        if root is None:
            return []
        try:
            if not root.is_running():  # pid reused since we cached it
                self._procs.pop(identity.pid, None)
                root = self._get(identity.pid)
                if root is None:
                    return []
            root_ctime = root.create_time()
        except _UNREADABLE:
            return []
        if abs(root_ctime - identity.create_time) > CREATE_TIME_TOLERANCE_S:
            return []
        tree, stack, seen = [root], [root.pid], {root.pid}
        while stack:
            for child_pid in self._children.get(stack.pop(), ()):
                child = self._get(child_pid)
                if child is None or child_pid in seen:
                    continue
                # A "child" older than the root is a reused pid (psutil's rule too).
                if child.create_time() + CREATE_TIME_TOLERANCE_S < root_ctime:
                    continue
                seen.add(child_pid)
                tree.append(child)
                stack.append(child_pid)
        return tree

    def _get(self, pid: int) -> psutil.Process | None:
        proc = self._procs.get(pid)
        if proc is None:
            try:
                proc = psutil.Process(pid)
            except _UNREADABLE:
                return None
            self._procs[pid] = proc
        return proc


def process_tree(
    identity: ProcessIdentity, table: ProcessTable | None = None
) -> list[psutil.Process]:
    """The process ``identity`` and its descendants; empty if it is gone.

    Pass a long-lived ``table`` to keep CPU baselines between calls.
    """
    if table is None:
        table = ProcessTable()
        table.refresh()
    return table.process_tree(identity)


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
