"""Whose files these are: tuitune acts only on run folders no other user could have written.

A run's store holds the command its supervisor executes. A run folder another user
created, or could have changed, would make `tuitune resume` (say, as root) execute
that user's command. So, as ssh refuses an `authorized_keys` others can write:
- the runs root, a run folder and its `store.db` must belong to the current user
  and not be writable by group or others;
- every folder above them must belong to the user or to root and not be writable by
  group or others, unless it has the sticky bit (as /tmp has), which stops others from
  renaming or replacing what is in it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotYours(PermissionError):
    """Refused: a path another user owns or could write; str() is one line."""

    def __str__(self) -> str:
        return str(self.args[0])


def _owner(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _stat(path: Path) -> os.stat_result:
    try:
        return os.stat(path)
    except PermissionError:
        raise NotYours(f"permission denied: {path} (it belongs to another user)") from None


def check_owned(path: Path) -> None:
    """Refuse `path` unless the current user owns it and no one else may write it."""
    st = _stat(path)
    me = os.geteuid()
    if st.st_uid != me:
        raise NotYours(f"permission denied: {path} belongs to {_owner(st.st_uid)}, not to "
                       "you; tuitune acts only on runs you own")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise NotYours(f"refusing {path}: it is writable by group or others (mode "
                       f"{stat.S_IMODE(st.st_mode):o}), so another user could have changed "
                       f"what it runs; check it, then `chmod go-w {path}`")


def check_folders_above(path: Path) -> None:
    """Refuse `path` if a folder above it lets another user replace it."""
    me = os.geteuid()
    # The real folders (symlinks followed) are the ones that hold what is read.
    for folder in Path(os.path.realpath(path)).parents:
        st = _stat(folder)
        if st.st_uid not in (me, 0):
            raise NotYours(f"refusing {path}: the folder {folder} above it belongs to "
                           f"{_owner(st.st_uid)}")
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
            raise NotYours(f"refusing {path}: the folder {folder} above it is writable by "
                           f"group or others (mode {stat.S_IMODE(st.st_mode):o}) without "
                           "the sticky bit")


def check_run_folder(run_dir: Path, store_name: str) -> None:
    """Refuse a run folder (and its store) that another user owns or could have written."""
    check_folders_above(run_dir)
    check_owned(run_dir)
    check_owned(run_dir / store_name)


def check_runs_root(root: Path) -> None:
    """Refuse a runs root (`$TUITUNE_HOME/runs`) that another user owns or could write."""
    check_folders_above(root)
    check_owned(root)
