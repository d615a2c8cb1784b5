"""GPU processes as the GPU screen lists them, and ending an orphan (psutil).

An orphan is a GPU process that belongs to no live trial of the run (a leaked
dataloader, a notebook someone forgot). The user may end one from the TUI, but
only a process of their own, identified by (pid, create time) so that a pid the
kernel reused in the meantime is never signalled.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

import psutil

from tuitune.system.host import same_start
from tuitune.system.types import SystemSnapshot

_UNREADABLE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


@dataclass(frozen=True)
class GpuProc:
    """One compute process on one GPU, with what psutil knows of it."""

    gpu: int
    pid: int
    mem_mb: float | None
    sm_util: float | None
    trial_id: int | None
    user: str
    name: str
    cmdline: str
    create_time: float | None
    own: bool
    cpu_pct: float | None
    rss_mb: float | None
    ancestors: tuple[tuple[int, str], ...]  # parent first, up to (not including) pid 1

    @property
    def orphan(self) -> bool:
        return self.trial_id is None


@dataclass(frozen=True)
class _Static:
    """What does not change while a process lives (read once per process)."""

    user: str
    name: str
    cmdline: str
    create_time: float
    own: bool
    ancestors: tuple[tuple[int, str], ...]


class ProcessInspector:
    """Describes the GPU processes of a snapshot. What never changes is read once
    per process; each call reads only CPU and RSS (psutil keeps the CPU baseline
    in the cached Process objects)."""

    def __init__(self) -> None:
        self._procs: dict[int, tuple[psutil.Process, _Static]] = {}
        self._uid = os.getuid() if hasattr(os, "getuid") else None

    def describe(self, snapshot: SystemSnapshot) -> tuple[GpuProc, ...]:
        seen: set[int] = set()
        out = []
        for gpu in snapshot.gpus:
            for proc in gpu.processes:
                seen.add(proc.pid)
                out.append(self._one(gpu.index, proc.pid, proc.used_memory_mb, proc.sm_util,
                                     snapshot.gpu_owners.get(proc.pid)))
        for pid in [p for p in self._procs if p not in seen]:
            del self._procs[pid]
        return tuple(out)

    def _static(self, pid: int) -> tuple[psutil.Process, _Static]:
        cached = self._procs.get(pid)
        if cached is not None:
            return cached
        proc = psutil.Process(pid)
        with proc.oneshot():
            static = _Static(
                user=proc.username(), name=proc.name(), create_time=proc.create_time(),
                own=self._uid is not None and proc.uids().real == self._uid,
                cmdline=" ".join(proc.cmdline()),
                ancestors=tuple((p.pid, p.name()) for p in proc.parents() if p.pid != 1))
        proc.cpu_percent(None)  # baseline
        self._procs[pid] = (proc, static)
        return proc, static

    def _one(self, gpu: int, pid: int, mem: float | None, sm: float | None,
             trial_id: int | None) -> GpuProc:
        try:
            proc, st = self._static(pid)
            if not same_start(st.create_time, proc.create_time()):
                raise psutil.NoSuchProcess(pid)  # pid reused: read it afresh next time
            with proc.oneshot():
                cpu = proc.cpu_percent(None)
                rss = proc.memory_info().rss / 1048576.0
            return GpuProc(gpu, pid, mem, sm, trial_id, st.user, st.name, st.cmdline,
                           st.create_time, st.own, cpu, rss, st.ancestors)
        except _UNREADABLE:
            self._procs.pop(pid, None)
            # Not visible here (another user, or a container without --pid=host).
            return GpuProc(gpu, pid, mem, sm, trial_id, "?", "?", "", None, False, None, None,
                           ())


def children_of(pid: int, limit: int = 8) -> list[tuple[int, str]]:
    """A process's descendants (pid, name), for the tree view; empty if it is gone."""
    try:
        kids = psutil.Process(pid).children(recursive=True)[:limit]
        return [(k.pid, k.name()) for k in kids]
    except _UNREADABLE:
        return []


def end_process(pid: int, create_time: float | None) -> str:
    """Send SIGTERM to one of the user's own processes; returns what happened.

    Refuses (with the reason) when the process is gone, is not the one that was
    listed (its pid was reused), or belongs to another user.
    """
    if create_time is None:
        return f"cannot end pid {pid}: it is not visible from here"
    try:
        proc = psutil.Process(pid)
        if not same_start(create_time, proc.create_time()):
            return f"pid {pid} is now another process; nothing was signalled"
        if hasattr(os, "getuid") and proc.uids().real != os.getuid():
            return f"pid {pid} belongs to {proc.username()}; only your own processes can be ended"
        os.kill(pid, signal.SIGTERM)
    except psutil.NoSuchProcess:
        return f"pid {pid} has already exited"
    except (psutil.AccessDenied, PermissionError):
        return f"not allowed to signal pid {pid}"
    return f"sent SIGTERM to pid {pid}"


def end_gpu_orphan(pid: int, snapshot: SystemSnapshot,
                   owner_names: dict[int, str] | None = None) -> tuple[bool, str]:
    """End `pid` if `snapshot` lists it on a GPU and no live trial owns it (what the
    GPU screen offers with K, for `tuitune gpu --end`). `owner_names` names the
    snapshot's trial keys for the refusal. Returns (ended, what happened)."""
    if not any(p.pid == pid for gpu in snapshot.gpus for p in gpu.processes):
        return False, f"pid {pid} is not using a GPU; nothing was signalled"
    owner = snapshot.gpu_owners.get(pid)
    if owner is not None:
        name = (owner_names or {}).get(owner, f"trial {owner}")
        return False, f"pid {pid} belongs to {name}: kill the trial instead; nothing was signalled"
    try:
        created = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return False, f"pid {pid} has already exited"
    said = end_process(pid, created)
    return said.startswith("sent SIGTERM"), said
