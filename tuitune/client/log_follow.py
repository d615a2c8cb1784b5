"""`tuitune logs RUN ID -f`: a trial's log as it grows (tail -f), until the trial ends.

Only complete lines are written (a line still being written waits for its newline),
so an escape sequence is never cut in two and shown half escaped. A line that grows
past MAX_LINE_BYTES without a newline is written as it is, so memory stays bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tuitune.engine.logs import MAX_LINE_BYTES

POLL = 0.25  # seconds between reads of the log
TAIL_BYTES = 65536  # read at most this much from the end for the first lines


def follow_log(path: Path, lines: int, write: Callable[[str], None],
               ended: Callable[[], bool], poll: float = POLL) -> None:
    """Write the last `lines` lines of the log, then each new line, until `ended()` says
    the trial is over (then what it wrote last, and return)."""
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - TAIL_BYTES))
        head = fh.read(size - fh.tell())
        complete, newline, pending = head.rpartition(b"\n")
        if newline and lines:
            for line in complete.split(b"\n")[-lines:]:
                write(_text(line))
        while True:
            over = ended()  # asked before the read: what the trial wrote last is read after
            pending = _write_lines(pending + fh.read(), write)
            if over:
                if pending:
                    write(_text(pending))
                return
            time.sleep(poll)


def _write_lines(data: bytes, write: Callable[[str], None]) -> bytes:
    *whole, rest = data.split(b"\n")
    for line in whole:
        write(_text(line))
    if len(rest) > MAX_LINE_BYTES:
        write(_text(rest))
        return b""
    return rest


def _text(line: bytes) -> str:
    return line.decode("utf-8", errors="replace").removesuffix("\r")
