"""The supervisor's error boundary: one failure, one answer, the loop goes on.

A command whose handler raises is answered as failed; a step of the loop or one
trial's I/O that raises is reported once (an `engine_error` event and the traceback
in the run's supervisor.log) and skipped, so one trial or one bad command never takes
the supervisor, and with it every other trial's supervision, down. A failed store write
(StoreError, or ENOSPC) is not caught here: the loop reports it and retries the tick.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tuitune.store import RunStore, StoreError

_MAX_LINE = 300
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def one_line(exc: BaseException) -> str:
    """`Type: first line of the message`, short enough for a status line."""
    text = _message(exc).strip().splitlines()
    line = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return line if len(line) <= _MAX_LINE else line[:_MAX_LINE - 1] + "…"


def _message(exc: BaseException) -> str:
    # shutil's copy errors are a list of (source, destination, reason): say the reason.
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list):
        errors = exc.args[0]
        if errors and isinstance(errors[0], tuple) and len(errors[0]) == 3:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            return f"{errors[0][2]}{more}"
    return str(exc)


class ErrorBoundary:
    def __init__(self, store: RunStore, log_path: Path, say: Callable[[str], None]) -> None:
        self.store, self.log_path, self.say = store, log_path, say
        self._reported: set[str] = set()

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Run a block; an exception other than StoreError is reported once and dropped."""
        try:
            yield
        except StoreError:
            raise
        except OSError as exc:
            if exc.errno in _DISK_FULL:
                raise  # like a store write: the tick says so once and retries
            self.report(what, exc)
        except Exception as exc:
            self.report(what, exc)

    def report(self, what: str, exc: Exception) -> None:
        line = f"{what}: {one_line(exc)}"
        if line in self._reported:
            return  # the same failure every tick is said once
        self._reported.add(line)
        self.log_traceback(exc)
        self.say(f"error: {line}")
        try:
            self.store.add_event("engine_error", "engine", line)
        except StoreError:
            pass

    def log_traceback(self, exc: BaseException) -> None:
        """The full story for whoever debugs it, in the log, never on a terminal."""
        text = time.strftime("%Y-%m-%d %H:%M:%S ") + "".join(traceback.format_exception(exc))
        try:
            fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, text.encode(errors="replace"))
            finally:
                os.close(fd)
        except OSError:
            pass
