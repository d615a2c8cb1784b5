"""Ending every process of a trial, also those that left its process group.

A trial's processes are found two ways, both read from ``/proc`` (Linux):

- **Descent**: every process whose parent chain leads to the trial's launcher. The
  launcher is a child subreaper, so a daemon that double-forks and calls
  ``setsid()`` is re-parented to it and stays a descendant while it lives.
- **Mark**: every process whose environment carries the trial's
  ``TUITUNE_TRIAL_DIR``, which all its processes inherit. This finds what is left
  after the launcher itself was killed (its orphans went to init or another
  subreaper).

Killing repeats until a scan finds nothing: a process forking while the previous
round was sent is caught by the next. Standard library only (the launcher uses it).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable

_PROC = "/proc"
ROUND_PAUSE_S = 0.01  # lets the kernel re-parent the children of what was just killed


def _stat(pid: int) -> tuple[int, bool] | None:
    """(parent pid, is a zombie) of a live pid, or None if it is gone."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split(maxsplit=2)
    return int(fields[1]), fields[0] == b"Z"


def _pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir(_PROC) if name.isdigit()]
    except OSError:
        return []


def descendants(roots: Iterable[int]) -> set[int]:
    """Live (not zombie) descendants of `roots`, roots excluded."""
    children: dict[int, list[int]] = {}
    zombies = set()
    for pid in _pids():
        info = _stat(pid)
        if info is None:
            continue
        children.setdefault(info[0], []).append(pid)
        if info[1]:
            zombies.add(pid)
    found: set[int] = set()
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found - zombies


def marked(trial_dir: str, exclude: Iterable[int] = ()) -> set[int]:
    """Live processes whose environment names `trial_dir` as their trial's folder,
    with their descendants."""
    needle = b"\0TUITUNE_TRIAL_DIR=" + os.fsencode(trial_dir) + b"\0"
    skip = {os.getpid(), *exclude}
    found = set()
    for pid in _pids():
        if pid in skip:
            continue
        try:
            with open(f"{_PROC}/{pid}/environ", "rb") as fh:
                env = b"\0" + fh.read() + b"\0"
        except OSError:
            continue
        if needle in env and (info := _stat(pid)) is not None and not info[1]:
            found.add(pid)
    return found | descendants(found)


def kill_until_gone(find: Callable[[], set[int]], timeout: float = 5.0,
                    after_round: Callable[[], None] | None = None) -> int:
    """SIGKILL what `find()` returns until it returns nothing (or `timeout` passes);
    returns how many processes were sent the signal."""
    deadline = time.monotonic() + timeout
    sent: set[int] = set()
    while time.monotonic() < deadline:
        pids = find()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                sent.add(pid)
            except (ProcessLookupError, PermissionError):
                pass
        if after_round:
            after_round()
        time.sleep(ROUND_PAUSE_S)
    return len(sent)


def supported() -> bool:
    return os.path.isdir(f"{_PROC}/self")
