"""The machine's process table as trial trees need it: parent, start, CPU time, RSS.

Two readers behind one small interface:

- ``ProcfsTable`` (Linux): one listing of ``/proc``, then one ``stat`` file per
  process that matters (about 20 us each) gives parent, start, CPU and RSS at
  once. Walking 64 trial trees through psutil read two or three files per tree
  process, and its parent map one more per process: ~25 ms a sample.
- ``PsutilTable`` (portable: macOS, or a ``/proc`` that cannot be read): a
  parent map from one scan, then each row read through psutil only when a tree
  walk asks for it.

Both give start times as psutil's ``create_time()`` does (boot time plus the
start tick), so identities recorded through psutil match either reader.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import psutil

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_NO_CHILDREN: tuple[int, ...] = ()
FULL_SCAN_EVERY = 30


@dataclass(frozen=True, slots=True)
class ProcRow:
    """One process as the table saw it.

    Attributes:
        ppid: Parent pid.
        start: Create time in epoch seconds (psutil's ``create_time()``).
        cpu_s: User plus system CPU seconds; 0.0 when unreadable.
        rss: Resident bytes; 0 when unreadable.
        zombie: Exited, not yet reaped: it holds nothing.
        readable: False when the process is alive but not ours to read.
    """

    ppid: int
    start: float
    cpu_s: float = 0.0
    rss: int = 0
    zombie: bool = False
    readable: bool = True


class ProcTable(Protocol):
    """A picture of the process table, refreshed by ``scan()`` once per sample."""

    def scan(self) -> None:
        """Read the table afresh; call before ``children`` and ``row``."""
        ...

    def children(self, pid: int) -> Sequence[int]:
        """Child pids of ``pid`` as of the last scan."""
        ...

    def row(self, pid: int) -> ProcRow | None:
        """What is known of ``pid`` now, or None if it is gone."""
        ...


class ProcfsTable:
    """The process table from ``/proc`` (Linux), re-reading only what can change.

    A process's start time never changes and its parent only when the parent
    exits, so ``scan()`` lists ``/proc`` and reads ``stat`` only for processes it
    has not seen, those whose parent has gone, and every process once in
    ``full_every`` scans (in case a pid was reused between two scans). ``row()``
    reads a process's ``stat`` afresh the first time it is asked for after a
    scan: only the trial trees' processes are, not the hundreds of kernel
    threads and daemons of a GPU server. A fresh row whose parent is not the one
    the scan assumed (its pid was reused, or it was reparented) corrects the
    table: ``children()`` of its new parent lists it from then on, and the walk
    in ``trees`` takes a child only when its fresh parent is in the tree.
    Boot time is read on full scans only: it moves only when the clock is set.
    """

    def __init__(self, proc: str = "/proc", full_every: int = FULL_SCAN_EVERY) -> None:
        self._proc = proc
        self._full_every = full_every
        self._scans = 0
        self._boot = 0.0
        self._known: dict[int, tuple[int, float]] = {}  # pid -> (ppid, start)
        self._rows: dict[int, ProcRow | None] = {}  # read since the last scan
        self._children: dict[int, list[int]] = {}

    def scan(self) -> None:
        listed = _list_pids(self._proc)
        alive = set(listed)
        full = self._scans % self._full_every == 0
        if full:  # every start is computed afresh from it on this scan
            self._boot = _boot_time(self._proc)
        self._scans += 1
        old, known, rows = self._known, {}, {}
        children: dict[int, list[int]] = defaultdict(list)
        for pid in listed:
            prev = old.get(pid)
            # ppid 0: the namespace's init, kthreadd, or a parent outside our view.
            if full or prev is None or (prev[0] != 0 and prev[0] not in alive):
                row = rows[pid] = self._read_row(pid)
                if row is None:  # exited since the listing
                    continue
                prev = (row.ppid, row.start)
            known[pid] = prev
            if prev[0] != pid:
                children[prev[0]].append(pid)
        self._known, self._rows, self._children = known, rows, children

    def children(self, pid: int) -> Sequence[int]:
        return self._children.get(pid, _NO_CHILDREN)

    def row(self, pid: int) -> ProcRow | None:
        if pid in self._rows:
            return self._rows[pid]
        known = self._known.get(pid)
        row = self._rows[pid] = None if known is None else self._read_row(pid)
        if row is not None and known is not None and known != (row.ppid, row.start):
            # Reused since it was last read, or reparented: its parent lists it now.
            self._known[pid] = (row.ppid, row.start)
            if row.ppid != known[0] and row.ppid != pid:
                self._children.setdefault(row.ppid, []).append(pid)
        return row

    def _read_row(self, pid: int) -> ProcRow | None:
        data = _read(f"{self._proc}/{pid}/stat")
        return None if data is None else _parse_stat(data, self._boot)


def _list_pids(proc: str) -> list[int]:
    return [int(name) for name in os.listdir(proc) if name.isdigit()]


def _parse_stat(data: bytes, boot: float) -> ProcRow:
    # The name (field 2) is in parentheses and may itself hold spaces and ")".
    fields = data[data.rfind(b")") + 2 :].split(maxsplit=22)
    # man 5 proc, counted from field 3 (state): ppid 4, utime 14, stime 15,
    # starttime 22 (ticks since boot), rss 24 (pages).
    return ProcRow(
        ppid=int(fields[1]),
        start=boot + int(fields[19]) / _CLOCK_TICKS,
        cpu_s=(int(fields[11]) + int(fields[12])) / _CLOCK_TICKS,
        rss=int(fields[21]) * _PAGE,
        zombie=fields[0] == b"Z",
    )


def _read(path: str) -> bytes | None:
    # os.open/os.read: a buffered open() costs half as much again per file.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 2048)
    except OSError:  # ESRCH: the process exited between open and read
        return None
    finally:
        os.close(fd)


def _boot_time(proc: str) -> float:
    # The whole file: btime follows a line per CPU, past 2 KiB on a big host. It
    # moves only when the wall clock is set (psutil's create_time() adds it too).
    try:
        with open(f"{proc}/stat", "rb") as f:
            for line in f:
                if line.startswith(b"btime"):
                    return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return psutil.boot_time()


class PsutilTable:
    """Parents from one scan; rows read through psutil when asked (portable)."""

    def __init__(self) -> None:
        self._parents: dict[int, int] = {}
        self._children: dict[int, list[int]] = {}
        # Process objects (with their start time, parent and last CPU seconds) live
        # while their pid stays in the table under the same parent, with CPU time
        # that never goes down: a new object costs two more file reads than a
        # cached one, and a pid reused by another process must not keep the old
        # start (the trial's identity would match it).
        self._procs: dict[int, tuple[psutil.Process, float, int, float]] = {}

    def scan(self) -> None:
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
        self._parents, self._children = parents, children
        # A pid that left the table, or that has another parent now, may be
        # another process: forget it.
        for pid in [pid for pid, cached in self._procs.items()
                    if parents.get(pid) != cached[2]]:
            del self._procs[pid]

    def children(self, pid: int) -> Sequence[int]:
        return self._children.get(pid, _NO_CHILDREN)

    def row(self, pid: int) -> ProcRow | None:
        ppid = self._parents.get(pid, -1)
        cached = self._procs.get(pid)
        if cached is None:
            try:
                proc = psutil.Process(pid)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                return None
            cached = self._procs[pid] = (proc, proc.create_time(), ppid, 0.0)
        proc, start, _, last_cpu = cached
        try:
            with proc.oneshot():
                rss = proc.memory_info().rss
                # Only zombies and kernel threads have no pages: status() is read then.
                if rss == 0 and proc.status() == psutil.STATUS_ZOMBIE:
                    return ProcRow(ppid, start, zombie=True)
                times = proc.cpu_times()
        except psutil.ZombieProcess:
            return ProcRow(ppid, start, zombie=True)
        except psutil.NoSuchProcess:
            del self._procs[pid]
            return None
        except psutil.AccessDenied:  # alive but not ours to read
            return ProcRow(ppid, start, readable=False)
        cpu_s = times.user + times.system
        if cpu_s < last_cpu:  # less CPU than this pid had: another process, same parent
            del self._procs[pid]
            return self.row(pid)
        self._procs[pid] = (proc, start, ppid, cpu_s)
        return ProcRow(ppid, start, cpu_s, rss)


def procfs_readable(proc: str = "/proc") -> bool:
    """True when ``ProcfsTable`` can work here: Linux with our own stat readable."""
    return sys.platform.startswith("linux") and _read(f"{proc}/self/stat") is not None


def default_table(proc: str = "/proc") -> ProcTable:
    """The fast ``/proc`` reader where it works, psutil elsewhere."""
    return ProcfsTable(proc) if procfs_readable(proc) else PsutilTable()
