"""The machine's process table, read once per sample: parent, start, CPU time, RSS.

Two readers behind one small interface:

- ``ProcfsTable`` (Linux): one pass over ``/proc/*/stat`` gives every field for
  every process at once, about 20 us a process. Walking 64 trial trees through
  psutil re-opened two or three files per tree process and cost ~25 ms a sample.
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
    """Every process's row from one pass over ``/proc/*/stat`` (Linux).

    The picture is the scan's: a process that exits after it keeps its row until
    the next scan, like a photograph, and one that exits during it is left out.
    """

    def __init__(self, proc: str = "/proc") -> None:
        self._proc = proc
        self._rows: dict[int, ProcRow] = {}
        self._children: dict[int, list[int]] = {}

    def scan(self) -> None:
        boot = _boot_time(self._proc)
        rows: dict[int, ProcRow] = {}
        children: dict[int, list[int]] = defaultdict(list)
        for name in _list_pids(self._proc):
            data = _read(f"{self._proc}/{name}/stat")
            if data is None:  # exited since the listing
                continue
            pid, row = int(name), _parse_stat(data, boot)
            rows[pid] = row
            if row.ppid != pid:
                children[row.ppid].append(pid)
        self._rows, self._children = rows, children

    def children(self, pid: int) -> Sequence[int]:
        return self._children.get(pid, _NO_CHILDREN)

    def row(self, pid: int) -> ProcRow | None:
        return self._rows.get(pid)


def _list_pids(proc: str) -> list[str]:
    return [name for name in os.listdir(proc) if name.isdigit()]


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
    # Read each scan, as psutil does for every create_time(): btime can step
    # when the wall clock is set, and identities must keep matching psutil's.
    data = _read(f"{proc}/stat") or b""
    for line in data.splitlines():
        if line.startswith(b"btime"):
            return float(line.split()[1])
    return psutil.boot_time()


class PsutilTable:
    """Parents from one scan; rows read through psutil when asked (portable)."""

    def __init__(self) -> None:
        self._children: dict[int, list[int]] = {}

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
        self._children = children

    def children(self, pid: int) -> Sequence[int]:
        return self._children.get(pid, _NO_CHILDREN)

    def row(self, pid: int) -> ProcRow | None:
        # A fresh Process each time: a cached one could name a reused pid.
        try:
            proc = psutil.Process(pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None
        start = proc.create_time()  # read by the constructor: never raises now
        try:
            with proc.oneshot():
                if proc.status() == psutil.STATUS_ZOMBIE:
                    return ProcRow(proc.ppid(), start, zombie=True)
                times = proc.cpu_times()
                return ProcRow(proc.ppid(), start, times.user + times.system,
                               proc.memory_info().rss)
        except psutil.ZombieProcess:
            return ProcRow(-1, start, zombie=True)
        except psutil.NoSuchProcess:
            return None
        except psutil.AccessDenied:  # alive but not ours to read
            return ProcRow(-1, start, readable=False)


def procfs_readable(proc: str = "/proc") -> bool:
    """True when ``ProcfsTable`` can work here: Linux with our own stat readable."""
    return sys.platform.startswith("linux") and _read(f"{proc}/self/stat") is not None


def default_table(proc: str = "/proc") -> ProcTable:
    """The fast ``/proc`` reader where it works, psutil elsewhere."""
    return ProcfsTable(proc) if procfs_readable(proc) else PsutilTable()
