"""Be told: the supervisor runs the spec's `[notify] command` for the events you chose,
so it works with no screen attached.

The notifier reads the run's event log (what every part of the supervisor already
records) and picks the kinds in `[notify] on`. A notification runs the command as an
argv (never through a shell) in a session of its own, with the event as one JSON line
on its standard input; it may take `timeout` seconds, then it is killed. A command
that cannot start, fails or is killed is a `notify_failed` event, never fatal. At most
`burst` notifications go out per `window`; the events beyond are held and sent as one
summary (`{"kind": "summary", "count": N, "kinds": {...}, "events": [...]}`) when the
window allows. Events before the supervisor started are not notified again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuitune.core.spec import NotifyConfig
from tuitune.store import EventRecord, RunStore

FAILED_KIND = "notify_failed"
LOG_NAME = "notify.log"
#: Events kept whole in a summary (the count covers them all).
SUMMARY_EVENTS = 20


def notify_kind(e: EventRecord) -> str:
    """The notify kind of a stored event: its own kind, except a run's end, which is
    `finished` or `stopped`."""
    if e.kind == "finished" and e.trial_id is None:
        return "stopped" if (e.data or {}).get("stopped") else "finished"
    return e.kind


def event_json(run: str, e: EventRecord) -> dict[str, Any]:
    return {"run": run, "id": e.id, "t": e.t, "kind": notify_kind(e), "trial_id": e.trial_id,
            "actor": e.actor, "message": e.message, "data": e.data}


@dataclass
class _Running:
    proc: subprocess.Popen[bytes]
    started: float
    what: str


class Notifier:
    """Owned by the supervisor: `poll(now)` each tick, `drain()` before it exits."""

    def __init__(self, config: NotifyConfig, store: RunStore, run_dir: Path, workdir: Path,
                 clock: Callable[[], float]) -> None:
        self.config, self.store, self.run_dir, self.workdir = config, store, run_dir, workdir
        self.clock = clock
        self._after = 0
        self._sent: deque[float] = deque()  # when notifications went out, in the window
        self._held: list[dict[str, Any]] = []
        self._running: list[_Running] = []

    @property
    def pids(self) -> set[int]:
        """The commands still running (the supervisor's stray reaper leaves them)."""
        return {r.proc.pid for r in self._running}

    @property
    def active(self) -> bool:
        return bool(self.config.command and self.config.on)

    def start_after(self, event_id: int) -> None:
        """Events up to `event_id` (before this supervisor) are not notified."""
        self._after = event_id

    def poll(self, now: float) -> None:
        self._reap(now)
        if not self.active:
            return
        for e in self.store.events(after_id=self._after):
            self._after = e.id
            if notify_kind(e) in self.config.on:
                self._due(event_json(self.run_dir.name, e), now)
        self._send_summary(now)

    def _due(self, event: dict[str, Any], now: float) -> None:
        if self._room(now):
            self._send(event, f"{event['kind']} event {event['id']}", now)
        else:
            self._held.append(event)

    def _room(self, now: float) -> bool:
        while self._sent and now - self._sent[0] >= self.config.window:
            self._sent.popleft()
        return len(self._sent) < self.config.burst

    def _send_summary(self, now: float) -> None:
        if not self._held or not self._room(now):
            return
        held, self._held = self._held, []
        kinds = Counter(e["kind"] for e in held)
        said = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
        summary = {"run": self.run_dir.name, "kind": "summary", "count": len(held),
                   "kinds": dict(kinds), "message": f"{len(held)} more events: {said}",
                   "events": held[:SUMMARY_EVENTS], "t": now}
        self._send(summary, f"a summary of {len(held)} events", now)

    def _send(self, event: dict[str, Any], what: str, now: float) -> None:
        self._sent.append(now)
        line = (json.dumps(event, default=str) + "\n").encode()
        try:
            with open(self.run_dir / LOG_NAME, "ab") as log:
                proc = subprocess.Popen(
                    list(self.config.command), stdin=subprocess.PIPE, stdout=log,
                    stderr=log, cwd=self.workdir, start_new_session=True, close_fds=True)
        except OSError as exc:  # not found, not executable: said, never fatal
            self._failed(f"notify command {self.config.command[0]!r} could not start for "
                         f"{what}: {exc.strerror or exc}")
            return
        try:
            assert proc.stdin is not None
            proc.stdin.write(line)  # one line: fits the pipe, never blocks
            proc.stdin.close()
        except OSError:
            pass  # it exited without reading: its exit status says how it went
        self._running.append(_Running(proc, now, what))

    def _reap(self, now: float) -> None:
        for r in list(self._running):
            code = r.proc.poll()
            if code is None and now - r.started > self.config.timeout:
                _kill_group(r.proc)
                r.proc.wait()
                self._running.remove(r)
                self._failed(f"notify command for {r.what} took over "
                             f"{self.config.timeout:g}s and was killed")
            elif code is not None:
                self._running.remove(r)
                if code != 0:
                    self._failed(f"notify command for {r.what} exited with status {code} "
                                 f"(its output is in {LOG_NAME})")

    def _failed(self, message: str) -> None:
        self.store.add_event(FAILED_KIND, "notify", message)

    def drain(self, patience: float | None = None) -> None:
        """Before the supervisor exits: notify what is left (a run's end comes last),
        held events as a summary at once, and wait for the commands (their timeout)."""
        import time

        now = self.clock()
        if self.active:
            self._sent.clear()  # the last word is not rate-limited away
            self.poll(now)
            self._sent.clear()
            self._send_summary(now)
        deadline = time.monotonic() + (patience if patience is not None else
                                       self.config.timeout)
        while self._running and time.monotonic() < deadline:
            time.sleep(0.05)
            self._reap(self.clock())
        self._reap(float("inf"))  # still running past its time: killed and said


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: the command and its children
    except (ProcessLookupError, PermissionError):
        pass
