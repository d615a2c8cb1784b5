"""The local executor: each trial is a process group on this machine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from tuitune.executors import cgroup, sweep
from tuitune.executors.base import Exit, LaunchRequest, SignalExecutor, TrialHandle
from tuitune.executors.launch_token import find_local_launch
from tuitune.system.host import same_start

EXIT_FILE = "exit.json"


def process_matches(pid: int, start: float) -> bool:
    """True if `pid` is alive and is the process that started at `start`.

    A pid alone is not an identity: after a process ends, the kernel may hand its
    pid to an unrelated program, which must never be signalled.
    """
    try:
        proc = psutil.Process(pid)
        return same_start(start, proc.create_time()) and (
            proc.status() != psutil.STATUS_ZOMBIE
        )
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def process_start_time(pid: int) -> float:
    return psutil.Process(pid).create_time()


LAUNCHER_MODULE = "tuitune.executors.launcher"


class LocalExecutor(SignalExecutor):
    """Starts trials through the launcher, in a new session and process group."""

    def __init__(self) -> None:
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, request: LaunchRequest) -> TrialHandle:
        request.trial_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        exit_path = request.trial_dir / EXIT_FILE
        exit_path.unlink(missing_ok=True)
        argv = [sys.executable, "-m", LAUNCHER_MODULE, str(exit_path), "--",
                *request.argv]
        env = dict(request.env)
        group = cgroup.create(request.trial_dir)
        if group is not None:
            env[cgroup.ENV_PATH] = str(group)  # the launcher moves itself in first
        fd = os.open(request.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            proc = subprocess.Popen(
                argv, cwd=request.cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=fd, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
            )
        finally:
            os.close(fd)
        self._children[proc.pid] = proc
        try:
            start = process_start_time(proc.pid)
        except psutil.NoSuchProcess:
            start = 0.0  # ended already; poll() will tell how
        return TrialHandle(request.trial_id, proc.pid, start, trial_dir=str(request.trial_dir))

    def poll(self, handle: TrialHandle) -> Exit | None:
        exit_path = Path(handle.trial_dir) / EXIT_FILE
        proc = self._children.get(handle.pid)
        if proc is not None:
            rc = proc.poll()
            if rc is None:
                return None
            del self._children[handle.pid]
            if rc >= 0:
                ended = _exit_from_returncode(rc, exit_path)
            else:  # the launcher itself was killed: what it would have ended is ours to end
                ended = Exit(None, -rc, launcher_killed=True,
                             orphans_ended=self._end_orphans(handle))
            cgroup.remove(handle.trial_dir)
            return ended
        if process_matches(handle.pid, handle.pid_start):
            return None
        # Adopted trials are not our children: how they ended comes from the
        # launcher's file, if it lived to write it.
        orphans = self._end_orphans(handle)
        cgroup.remove(handle.trial_dir)
        return _exit_from_file(exit_path) or Exit(None, launcher_killed=True,
                                                  orphans_ended=orphans)

    def _group(self, handle: TrialHandle) -> Path | None:
        """The trial folder's cgroup if it is this launch's to end: while our launcher
        lives, or once no launcher lives in it (what is left are orphans). A stale
        handle (its pid now names another process start) never ends a group in which
        a live launch runs."""
        group = cgroup.recorded(handle.trial_dir)
        if group is None or process_matches(handle.pid, handle.pid_start):
            return group
        return None if any(_is_launcher(p) for p in cgroup.members(group)) else group

    def _end_orphans(self, handle: TrialHandle) -> int:
        """End what is left of a trial whose launcher is gone: its cgroup's members,
        processes marked with its folder, and recorded descendants still alive."""
        group = self._group(handle)

        def left() -> set[int]:
            found = {p for p, s in handle.descendants if process_matches(p, s)}
            if group is not None:
                found |= cgroup.members(group)
            return found | (sweep.marked(handle.trial_dir) if sweep.supported() else set())

        return sweep.kill_until_gone(left)

    def _group_alive(self, handle: TrialHandle) -> bool:
        return any(process_matches(pid, start) for pid, start in handle.descendants)

    def _signal(self, handle: TrialHandle, sig: int) -> None:
        """Signal the process group and every recorded descendant that left it.

        Only processes whose (pid, start time) match what we recorded are signalled.
        """
        leader_ok = process_matches(handle.pid, handle.pid_start)
        members = [(p, s) for p, s in handle.descendants if process_matches(p, s)]
        if leader_ok or any(_pgid(p) == handle.pid for p, _ in members):
            try:
                os.killpg(handle.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        for pid, _ in members:
            if _pgid(pid) != handle.pid:
                try:
                    os.kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass

    def kill(self, handle: TrialHandle) -> None:
        group = self._group(handle)
        if group is not None:
            cgroup.kill(group)  # all at once, the launcher too; what is outside follows
        if sweep.supported() and process_matches(handle.pid, handle.pid_start):
            # While the launcher lives, every orphan of the trial (a setsid daemon
            # included) is its descendant: end them all before the launcher.
            sweep.kill_until_gone(lambda: sweep.descendants([handle.pid]))
        self._signal(handle, signal.SIGKILL)

    def adopt(self, handle: TrialHandle) -> bool:
        return self.tree_alive(handle)

    def find_launch(self, trial_id: int, token: str, trial_dir: Path
                    ) -> TrialHandle | Exit | None:
        return find_local_launch(trial_id, token, trial_dir,
                                 _exit_from_file(trial_dir / EXIT_FILE))

    def refresh_tree(self, handle: TrialHandle) -> TrialHandle:
        known = {(p, s) for p, s in handle.descendants if process_matches(p, s)}
        try:
            root = psutil.Process(handle.pid)
            if same_start(handle.pid_start, root.create_time()):
                for child in root.children(recursive=True):
                    try:
                        known.add((child.pid, child.create_time()))
                    except psutil.NoSuchProcess:
                        continue
        except psutil.NoSuchProcess:
            pass
        return TrialHandle(handle.trial_id, handle.pid, handle.pid_start, handle.node,
                           handle.trial_dir, tuple(sorted(known)))

    def refresh_trees(self, handles: list[TrialHandle]) -> list[TrialHandle]:
        """One scan of the process table for every trial: psutil's recursive
        children() rescans /proc for each trial, which costs O(trials x processes)."""
        children: dict[int, list[psutil.Process]] = {}
        for proc in psutil.process_iter(["ppid"]):
            children.setdefault(proc.info["ppid"], []).append(proc)
        out = []
        for handle in handles:
            known = {(p, s) for p, s in handle.descendants if process_matches(p, s)}
            if process_matches(handle.pid, handle.pid_start):
                stack = list(children.get(handle.pid, []))
                while stack:
                    proc = stack.pop()
                    try:
                        known.add((proc.pid, proc.create_time()))
                    except psutil.NoSuchProcess:
                        continue
                    stack.extend(children.get(proc.pid, []))
            out.append(TrialHandle(handle.trial_id, handle.pid, handle.pid_start, handle.node,
                                   handle.trial_dir, tuple(sorted(known))))
        return out

    def tree_alive(self, handle: TrialHandle) -> bool:
        """True while the launcher or any recorded descendant still runs."""
        return process_matches(handle.pid, handle.pid_start) or self._group_alive(handle)


def _is_launcher(pid: int) -> bool:
    try:
        return LAUNCHER_MODULE in psutil.Process(pid).cmdline()[:3]
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def _exit_from_file(exit_path: Path) -> Exit | None:
    try:
        data = json.loads(exit_path.read_text())
    except (OSError, ValueError):
        return None
    return Exit(data.get("code"), data.get("signal"))


def _exit_from_returncode(rc: int, exit_path: Path) -> Exit:
    return _exit_from_file(exit_path) or Exit(rc if rc < 128 else None,
                                              rc - 128 if rc > 128 else None)


def reap_strays(known: set[int]) -> None:
    """Reap exited children that are not ours to wait for (orphans handed to us as
    subreaper), without stealing the exit status of a launcher we still track."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid in known:
            return
        try:
            os.waitpid(info.si_pid, os.WNOHANG)
        except ChildProcessError:
            return
