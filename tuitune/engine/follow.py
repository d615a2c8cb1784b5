"""Following a run from a terminal: its events as they happen, then how it ended.

A follower is a front end like the TUI: it only reads the store. The run's supervisor
is a detached process of its own, so a follower that stops (Ctrl-C, a hangup, a
closed pipe) leaves the experiment running.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tuitune.engine.runs import supervisor_info
from tuitune.store import EventRecord, RunStore
from tuitune.core.strategies import MANUAL

#: An event as a line of output, or None to leave it out (`tuitune events --trial`).
Render = Callable[[EventRecord], "str | None"]

POLL = 0.25  # seconds between reads of the store

#: Exit status of a follower (`tuitune run --headless`, `tuitune follow`), by outcome.
EXIT_FINISHED = 0  # budget used or search done
EXIT_SUPERVISOR_GONE = 1  # the supervisor died or was ended without finishing the run
EXIT_STOPPED = 3  # ended by `tuitune stop` (or the TUI's stop)


@dataclass(frozen=True)
class Outcome:
    """How a followed run ended (as far as the follower saw)."""

    finished: bool
    reason: str
    exit_status: int


def event_line(e: EventRecord) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(e.t))
    return f"{stamp} {e.message} [{e.actor}]"


def manual_hint(store: RunStore, run_name: str) -> str | None:
    """For a manual run, which waits for the user: how to give it trials."""
    if store.meta(["strategy"]).get("strategy") != MANUAL:
        return None
    return (f"manual run: no trial starts until you add one: `tuitune new {run_name} "
            f"NAME=VALUE ...` (or `n` in `tuitune attach {run_name}`), or hand it to a "
            f"search: `tuitune handoff {run_name} random --more 10`")


def last_event_id(store: RunStore, keep: int = 0) -> int:
    """The id after which to start following, so that the last `keep` events show."""
    ids = [e.id for e in store.events()]
    return ids[-keep - 1] if len(ids) > keep else 0


def follow(run_dir: Path, write: Callable[[str], None], after_id: int = 0,
           poll: float = POLL, render: Render | None = None) -> Outcome:
    """Write each event after `after_id` as it is recorded, until the run finishes or
    its supervisor is gone; returns how it ended. `render` makes an event's line (None:
    the event is left out); by default `event_line`."""
    try:
        store = RunStore(Path(run_dir), readonly=True)
    except FileNotFoundError:  # deleted before the first look: as if deleted while following
        return _deleted(Path(run_dir))
    try:
        while True:
            after_id = _write_new(store, after_id, write, render or event_line)
            outcome = _ended(store)
            if outcome is not None:
                _write_new(store, after_id, write, render or event_line)  # its last words
                return outcome
            time.sleep(poll)
    finally:
        store.close()


def _write_new(store: RunStore, after_id: int, write: Callable[[str], None],
               render: Render) -> int:
    for e in store.events(after_id=after_id):
        line = render(e)
        if line is not None:
            write(line)
        after_id = e.id
    return after_id


def _deleted(run_dir: Path) -> Outcome:
    return Outcome(False, f"its run folder {run_dir} was deleted", EXIT_SUPERVISOR_GONE)


def _ended(store: RunStore) -> Outcome | None:
    if not store.path.exists():  # its supervisor notices too, ends the trials and exits
        return _deleted(store.path.parent)
    # Liveness first: a supervisor that finishes clears its pid and sets the state in
    # one write, so a dead one with an unfinished state really died.
    if supervisor_info(store).alive:
        return None
    meta = store.meta(["state", "finished_reason"])
    reason = meta.get("finished_reason") or ""
    if meta.get("state") == "finished":
        status = EXIT_STOPPED if reason == "stopped" else EXIT_FINISHED
        return Outcome(True, reason or "finished", status)
    return Outcome(False, f"its supervisor is gone (run state: {meta.get('state', '?')})",
                   EXIT_SUPERVISOR_GONE)
