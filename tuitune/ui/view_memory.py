"""How the user left the run screen (sort, filters, chart metrics, log scale,
smoothing), kept in the run folder so that `tuitune attach` opens it the same way.
No Textual.

The file is small JSON, replaced whole (a reader sees the old one or the new one,
never half). What another user could have written is not read, and nothing in it is
trusted: a missing, unreadable, corrupt or foreign file, or a value of the wrong
kind, gives the default for what it spoils, and never an error on screen.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Collection
from dataclasses import asdict, dataclass, fields
from pathlib import Path

FILE_NAME = "tui_view.json"
#: More than this is not a file this module wrote.
MAX_BYTES = 4096
MAX_TEXT = 200


@dataclass(frozen=True)
class TableState:
    """Sort and filter, as shown in the table's title."""

    sort: str = "id"
    descending: bool = False
    state_filter: str = "all"
    text_filter: str = ""

    @property
    def filtered(self) -> bool:
        return self.state_filter != "all" or bool(self.text_filter)

    @property
    def plain(self) -> bool:
        """All trials, by id: nothing to tell the user about."""
        return not self.filtered and self.sort == "id" and not self.descending

    def describe(self, shown: int, total: int) -> str:
        """'filter: running, text 'clone' · sort: best ▲ · 2 of 6 shown'."""
        bits = []
        if self.filtered:
            what = [self.state_filter] if self.state_filter != "all" else []
            what += [f"text {self.text_filter!r}"] if self.text_filter else []
            bits.append("filter: " + ", ".join(what))
        bits.append(f"sort: {self.sort} {'▼' if self.descending else '▲'}")
        bits.append(f"{shown} of {total} shown")
        return " · ".join(bits)


@dataclass(frozen=True)
class ViewSettings:
    """The run screen's settings; the defaults are what a first attach shows."""

    table: TableState = TableState()
    metric: str | None = None  # None: the run's objective
    log_y: bool = False
    smooth: bool = False
    metric2: str | None = None  # the second chart's: None chosen for you, "" none


def _read_own_file(path: Path) -> bytes | None:
    """The file's bytes, if it is a regular file of ours that no one else can write."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:  # missing, a symlink, unreadable
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if (not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid()
                or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
            return None
        data = fh.read(MAX_BYTES + 1)
    return data if len(data) <= MAX_BYTES else None


def _valid(name: str, value: object, sorts: Collection[str],
           filters: Collection[str]) -> bool:
    if name in ("descending", "log_y", "smooth"):
        return isinstance(value, bool)
    if name == "sort":
        return value in sorts
    if name == "state_filter":
        return value in filters
    if name in ("metric", "metric2") and value is None:
        return True
    return isinstance(value, str) and len(value) <= MAX_TEXT and value.isprintable()


def load(run_dir: Path, sorts: Collection[str], filters: Collection[str]) -> ViewSettings:
    """The settings kept for the run; each one that is absent or bad is the default."""
    data = _read_own_file(Path(run_dir) / FILE_NAME)
    if data is None:
        return ViewSettings()
    try:
        raw = json.loads(data)
    except ValueError:  # not JSON, not UTF-8
        return ViewSettings()
    if not isinstance(raw, dict):
        return ViewSettings()
    table = raw.get("table")
    return ViewSettings(
        TableState(**_kept(TableState, table if isinstance(table, dict) else {}, sorts,
                           filters)),
        **_kept(ViewSettings, raw, sorts, filters))


def _kept(cls: type, raw: dict, sorts: Collection[str],
          filters: Collection[str]) -> dict[str, object]:
    """The fields of `cls` that `raw` holds with a valid value."""
    return {f.name: raw[f.name] for f in fields(cls)
            if f.name != "table" and f.name in raw
            and _valid(f.name, raw[f.name], sorts, filters)}


def save(run_dir: Path, settings: ViewSettings) -> bool:
    """Replace the kept settings (mode 0600, written aside then renamed into place).
    False if it could not be written (a full disk, a read-only folder): the view is
    then simply not remembered."""
    folder = Path(run_dir)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{FILE_NAME}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(settings), fh)
        os.replace(tmp, folder / FILE_NAME)
        return True
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return False
