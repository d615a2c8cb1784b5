"""Reading trial logs: the tail for error messages and the TUI, and metric lines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuitune.engine.stdout_metrics import MAX_LINE_CHARS, StdoutMetricParser

#: In "auto" mode parsed points wait this long before being stored, so that a
#: script that also reports through the API (which then wins) is not counted twice.
HOLD_SECONDS = 1.0
#: A line is at most MAX_LINE_CHARS characters of up to 4 bytes each; past this
#: many bytes without a newline the line is skipped without being kept in memory.
MAX_LINE_BYTES = 4 * MAX_LINE_CHARS
#: Bytes read from one log per call unless the caller says otherwise.
CHUNK_BYTES = 1 << 20

Point = tuple[int, str, float, float]


def log_tail(path: Path, lines: int = 20, max_bytes: int = 65536) -> str:
    """The last `lines` lines of a log (reads at most `max_bytes` from its end)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Parsed:
    """What one read found.

    Attributes:
        points: (step, name, value, t) points ready to store.
        position: Where reading resumes after a restart once `points` are stored
            (the byte offset of a line start, and the parser's state there); store
            both in one transaction and nothing is read twice or skipped.
        at_end: True when the read reached the end of what the log holds now.
    """

    points: list[Point] = field(default_factory=list)
    position: dict[str, Any] = field(default_factory=dict)
    at_end: bool = True


@dataclass
class _Held:
    t: float
    start: int  # the line's offset in the log
    state: dict[str, Any]  # the parser's state before the line
    points: list[Point]


class LogTailer:
    """Follows one trial's log and turns new lines into metric points.

    Args:
        path: The log.
        skip_until: Per metric name, the last step already stored (runs written
            before positions were stored: the old way not to store a point twice).
        not_metrics: Names the parser never takes for metrics.
        position: Where an earlier reader stopped (`Parsed.position`).
    """

    def __init__(self, path: Path, skip_until: dict[str, int] | None = None,
                 not_metrics: Iterable[str] = (), position: dict[str, Any] | None = None
                 ) -> None:
        self.path = path
        self._parser = StdoutMetricParser(not_metrics)
        offset = 0
        if position:
            offset = max(0, int(position.get("offset", 0)))
            self._parser.restore(position)
        self._offset = offset  # bytes of the file read so far
        self._line_start = offset  # where the line in `_partial` starts
        self._partial = b""
        self._skipping = False  # inside a line too long to keep
        self._overlong = 0
        self._held: list[_Held] = []
        self._skip = dict(skip_until or {})
        self._discarded = False

    @property
    def overlong(self) -> int:
        """Lines skipped because they were longer than MAX_LINE_CHARS."""
        return self._overlong + self._parser.overlong

    def discard(self) -> None:
        """Stop parsing: the trial reports through the API instead."""
        self._held.clear()
        self._discarded = True

    def read(self, now: float, hold: bool, final: bool = False,
             max_bytes: int = CHUNK_BYTES) -> Parsed:
        """Parse at most `max_bytes` of new output. With `final` (the trial ended),
        nothing is held back and a last line without a newline counts too."""
        if self._discarded:
            return Parsed()
        blocks, at_end = self._new_lines(final, max_bytes)
        for first_start, base, raw in blocks:
            # Lines in one block (one parse, no Python loop per line); a run from
            # before positions were stored filters per line, as its skip is per step.
            pieces = self._one_by_one(first_start, base, raw) if self._skip else [
                (first_start, base, raw)]
            for start, piece_base, piece in pieces:
                said = self._parser.feed_lines(piece.decode("utf-8", "replace"))
                # A step at or below `skip` was stored before a restart.
                points = [(step, name, value, now) for step, name, value in said.points
                          if not self._skip or step > self._skip.get(name, -1)]
                if points:
                    if said.first > 0:  # where that line starts in the log
                        start = piece_base + len(piece) - len(
                            piece.split(b"\n", said.first)[-1])
                    self._held.append(_Held(now, start, said.state if hold else {}, points))
        keep = hold and not final
        ready = [h for h in self._held if not keep or now - h.t >= HOLD_SECONDS]
        self._held = self._held[len(ready):]  # held lines are in time order
        if self._held:
            first = self._held[0]
            position = {"offset": first.start, **first.state}
        else:
            position = {"offset": self._line_start, **self._parser.state()}
        return Parsed([p for h in ready for p in h.points], position, at_end)

    def _new_lines(self, final: bool, max_bytes: int
                   ) -> tuple[list[tuple[int, int, bytes]], bool]:
        """New complete lines as blocks (first line's offset, offset of the block's
        bytes were they not folded, the lines joined by newlines), and whether the
        read reached the end."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read(max_bytes)
        except OSError:
            return [], True
        pos = self._offset
        self._offset += len(data)
        at_end = len(data) < max_bytes
        if self._skipping:
            newline = data.find(b"\n")
            if newline < 0:
                return [], at_end
            self._skipping = False
            data, pos = data[newline + 1:], pos + newline + 1
            self._line_start = pos
        buf = self._partial + data
        base = self._offset - len(buf)  # where buf starts (a folded line starts earlier)
        blocks = []
        last_newline = buf.rfind(b"\n")
        if last_newline >= 0:
            blocks.append((self._line_start, base, buf[:last_newline]))
            self._partial = buf[last_newline + 1:]
            self._line_start = base + last_newline + 1
        else:
            self._partial = buf
        if len(self._partial) > MAX_LINE_BYTES:
            self._fold_partial()
        if final and at_end and self._partial:
            blocks.append((self._line_start, self._line_start, self._partial))
            self._line_start, self._partial = self._offset, b""
        return blocks, at_end

    @staticmethod
    def _one_by_one(first_start: int, base: int, raw: bytes
                    ) -> list[tuple[int, int, bytes]]:
        pieces, index = [], 0
        for i, line in enumerate(raw.split(b"\n")):
            start = first_start if i == 0 else base + index
            pieces.append((start, start, line))
            index += len(line) + 1
        return pieces

    def _fold_partial(self) -> None:
        """A long line so far: keep only its last redraw (progress bars rewrite
        themselves with \\r), or give it up until its newline."""
        cut = max(self._partial.rfind(b"\r"), self._partial.rfind(b"\b"))
        if cut >= 0:
            self._partial = self._partial[cut + 1:]
        if len(self._partial) > MAX_LINE_BYTES:
            self._partial = b""
            self._skipping = True
            self._overlong += 1
