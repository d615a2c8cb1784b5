"""Finding the processes of a start the supervisor did not live to record.

Before it spawns a trial, the supervisor records a fresh token with the trial and
puts it in the trial's environment, which every process of the trial inherits
(the launcher, the training script, its children, daemons that left the process
group). A new supervisor that finds a token but no recorded process looks for it
here, so it adopts the trial instead of starting a second copy.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import psutil

from tuitune.executors.base import Exit, TrialHandle

LAUNCH_TOKEN_ENV = "TUITUNE_LAUNCH_TOKEN"
_LAUNCHER = ["-m", "tuitune.executors.launcher"]


def new_token() -> str:
    return secrets.token_hex(12)


def processes_with_token(token: str) -> list[psutil.Process]:
    """Live processes whose environment carries `token` (ours only: others' are
    unreadable, and could not have been started by us)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(LAUNCH_TOKEN_ENV) == token and (
                    proc.status() != psutil.STATUS_ZOMBIE):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def _identity(proc: psutil.Process) -> tuple[int, float] | None:
    try:
        return proc.pid, proc.create_time()
    except psutil.NoSuchProcess:
        return None


def _is_launcher(proc: psutil.Process) -> bool:
    try:
        return proc.cmdline()[1:3] == _LAUNCHER
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def find_local_launch(trial_id: int, token: str, trial_dir: Path,
                      exit_status: Exit | None) -> TrialHandle | Exit | None:
    """The handle of the launch's launcher if it runs; else how the launch ended
    (`exit_status`, from the launcher's file), or None if it never ran.

    Processes of the launch whose launcher is gone cannot be followed (no one will
    record their exit), so they are ended here and the launch counts as ended with
    an unknown status: running it again would store its steps twice."""
    procs = processes_with_token(token)
    launcher = next((p for p in procs if _is_launcher(p)), None)
    if launcher is not None:
        me = _identity(launcher)
        if me is not None:
            rest = (_identity(p) for p in procs if p.pid != launcher.pid)
            return TrialHandle(trial_id, me[0], me[1], trial_dir=str(trial_dir),
                               descendants=tuple(sorted(i for i in rest if i)))
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(procs, timeout=5)
    if exit_status is not None:
        return exit_status
    return Exit(None) if procs else None

