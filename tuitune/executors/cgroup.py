"""A cgroup v2 per trial, where the system lets us make one.

Every process a trial starts stays in its cgroup whatever it does (fork, setsid,
re-parenting to init), and writing "1" to the group's `cgroup.kill` SIGKILLs all of
them at once, so nothing forks its way out between a scan and a signal. It is a
second net under the launcher's `/proc` sweep (sweep.py), not a replacement: where
no cgroup v2 hierarchy is mounted, or it is not writable by us (an unprivileged user
without delegation, a container), every function here is a quiet no-op.

The group is made beside the supervisor's own (a child of its cgroup), named after
the trial's folder; its path is written to `trials/ID/cgroup` so that a restarted
supervisor, whose own cgroup may differ, finds it again. The launcher moves itself
into it first thing, before it starts the trainer. Standard library only.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CGROUP_FILE = "cgroup"
#: Set to "0" to never use cgroups (e.g. to test the fallback).
ENV_SWITCH = "TUITUNE_CGROUPS"
ENV_PATH = "TUITUNE_CGROUP"


def _v2_mount() -> Path | None:
    try:
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                if right.split(" ", 1)[0] == "cgroup2":
                    return Path(left.split()[4])
    except OSError:
        pass
    return None


def _own_group() -> Path | None:
    mount = _v2_mount()
    if mount is None:
        return None
    try:
        with open("/proc/self/cgroup") as fh:
            for line in fh:
                if line.startswith("0::"):
                    return mount / line[3:].strip().lstrip("/")
    except OSError:
        pass
    return None


def create(trial_dir: Path) -> Path | None:
    """Make the trial's group and record its path; None where that is not possible."""
    if os.environ.get(ENV_SWITCH) == "0":
        return None
    parent = _own_group()
    if parent is None:
        return None
    name = "tuitune-" + hashlib.sha256(str(trial_dir).encode()).hexdigest()[:16]
    group = parent / name
    try:
        group.mkdir(exist_ok=True)
        if not (group / "cgroup.kill").exists():  # kernels before 5.14
            group.rmdir()
            return None
        fd = os.open(trial_dir / CGROUP_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(str(group))
    except OSError:
        return None
    return group


def recorded(trial_dir: str | Path) -> Path | None:
    """The trial's group, if one was made and still exists."""
    try:
        group = Path((Path(trial_dir) / CGROUP_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    return group if (group / "cgroup.procs").exists() else None


def join(group: str) -> bool:
    """Move the calling process into `group` (its children will start there)."""
    try:
        with open(os.path.join(group, "cgroup.procs"), "w") as fh:
            fh.write("0")
        return True
    except OSError:
        return False


def members(group: Path) -> set[int]:
    try:
        return {int(p) for p in (group / "cgroup.procs").read_text().split()}
    except (OSError, ValueError):
        return set()


def kill(group: Path) -> None:
    """SIGKILL every process in the group at once."""
    try:
        (group / "cgroup.kill").write_text("1")
    except OSError:
        pass


def remove(trial_dir: str | Path) -> None:
    """Remove the trial's group once it is empty (a group with members stays)."""
    group = recorded(trial_dir)
    if group is None:
        return
    try:
        group.rmdir()
    except OSError:
        return
    try:
        (Path(trial_dir) / CGROUP_FILE).unlink()
    except OSError:
        pass
