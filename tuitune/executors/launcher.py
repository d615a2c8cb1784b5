"""Runs one trial command and records how it ended.

    python -m tuitune.executors.launcher EXIT_FILE -- PROGRAM ARG...

It leads the trial's process group, so signals to the group reach everything the
trial starts. It ignores SIGTERM itself (the trial gets it) so it can write the
trial's exit status to EXIT_FILE; that file is how a supervisor that was restarted
learns how an adopted trial ended. It is a child subreaper: orphaned descendants
(daemons that double-forked and left the group) are re-parented to it, and when
the trainer exits it kills every one still running and reaps them, so nothing
outlives its trial. The trainer is SIGKILLed by the kernel if the launcher dies
first (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tuitune.executors import cgroup, sweep

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_REAP_WINDOW = 1.0  # seconds to collect leftover children after the trial exits
_EXIT_PATIENCE = 60.0  # seconds to retry writing the exit status while the disk is full


def become_subreaper() -> bool:
    """Linux only; elsewhere orphans go to init as usual."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _write_exit(path: str, code: int | None, sig: int | None, error: str | None = None) -> None:
    """Record the exit status, retrying while the disk is full: it is how a restarted
    supervisor learns how an adopted trial ended (the parent also reaps our code)."""
    data = json.dumps({"code": code, "signal": sig, "error": error, "t": time.time()})
    deadline = time.monotonic() + _EXIT_PATIENCE
    while True:
        try:
            _write_atomically(path, data)
            return
        except FileNotFoundError:
            return  # the run folder was deleted: nobody is left to tell
        except OSError:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.5)


def _write_atomically(path: str, data: str) -> None:
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(data)
    os.replace(tmp, path)  # atomic: a reader sees all of it or nothing


def _trial_umask() -> int:
    """Sets our own umask to owner-only; returns the one the trial gets: the user's,
    as the supervisor saved it, else the one we inherited."""
    inherited = os.umask(0o077)
    try:
        return int(os.environ.get("TUITUNE_TRIAL_UMASK", ""), 8) & 0o777
    except ValueError:
        return inherited


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _end_leftovers(group: str | None) -> None:
    """The trainer is gone: end every process it left, daemons included (as our
    subreaper's orphans they are still our descendants; all of them are in the
    trial's cgroup, where there is one), and reap them."""
    me = os.getpid()

    def left() -> set[int]:
        found = sweep.descendants([me]) if sweep.supported() else set()
        return found | (cgroup.members(Path(group)) - {me} if group else set())

    sweep.kill_until_gone(left, after_round=_reap)
    deadline = time.monotonic() + _REAP_WINDOW
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)


def _die_with_parent(launcher_pid: int) -> None:
    """In the trainer between fork and exec: SIGKILL it when the launcher dies, so
    a killed launcher never leaves a trainer running unrecorded."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return  # not Linux: the supervisor ends the tree by its recorded identities
    if os.getppid() != launcher_pid:  # the launcher died before the prctl took hold
        os._exit(1)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m tuitune.executors.launcher EXIT_FILE -- PROGRAM ARG...",
              file=sys.stderr)
        return 2
    exit_file, command = argv[0], argv[2:]
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    become_subreaper()
    group = os.environ.pop(cgroup.ENV_PATH, None)  # the trainer need not see it
    if group and not cgroup.join(group):
        group = None
    trial_umask = _trial_umask()
    me = os.getpid()

    def as_the_user() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not our ignored SIGTERM
        os.umask(trial_umask)  # the trial's files are the user's business
        _die_with_parent(me)
    try:
        child = subprocess.Popen(command, restore_signals=True, preexec_fn=as_the_user)
    except OSError as exc:
        message = f"tuitune: cannot start {command[0]!r}: {exc.strerror}"
        print(message, file=sys.stderr, flush=True)
        _write_exit(exit_file, 127, None, message)
        return 127
    code = child.wait()
    if code < 0:
        _write_exit(exit_file, None, -code)
        _end_leftovers(group)
        return 128 - code
    _write_exit(exit_file, code, None)
    _end_leftovers(group)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
