"""Reading trial logs: the tail for error messages and the TUI, and metric lines."""

from __future__ import annotations

from pathlib import Path

from tuitune.engine.stdout_metrics import StdoutMetricParser

#: In "auto" mode parsed points wait this long before being stored, so that a
#: script that also reports through the API (which then wins) is not counted twice.
HOLD_SECONDS = 1.0


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


class LogTailer:
    """Follows one trial's log and turns new lines into metric points."""

    def __init__(self, path: Path, skip_until: dict[str, int] | None = None) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self._parser = StdoutMetricParser()
        self._held: list[tuple[float, tuple[int, str, float, float]]] = []
        self._skip = dict(skip_until or {})
        self._discarded = False

    def discard(self) -> None:
        """Stop parsing: the trial reports through the API instead."""
        self._held.clear()
        self._discarded = True

    def read(self, now: float, hold: bool, final: bool = False
             ) -> list[tuple[int, str, float, float]]:
        if self._discarded:
            return []
        for line in self._new_lines(final):
            for step, name, value in self._parser.feed(line):
                if step <= self._skip.get(name, -1):
                    continue  # stored before a supervisor restart
                self._held.append((now, (step, name, value, now)))
        if not hold or final:
            ready, self._held = [p for _, p in self._held], []
            return ready
        ready = [p for t, p in self._held if now - t >= HOLD_SECONDS]
        self._held = [(t, p) for t, p in self._held if now - t < HOLD_SECONDS]
        return ready

    def _new_lines(self, final: bool) -> list[str]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read(1 << 20)
        except OSError:
            return []
        self._offset += len(data)
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        if final and self._partial:
            complete.append(self._partial)
            self._partial = b""
        return [c.decode("utf-8", errors="replace") for c in complete]
