"""Read a run's store on a connection of the test's own, closed after each read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuitune.store import RunStore


def read(run_dir: Path, fn: Callable[[RunStore], Any]) -> Any:
    """`fn(store)` on a fresh connection, closed after."""
    store = RunStore(run_dir)
    try:
        return fn(store)
    finally:
        store.close()


def trial(run_dir: Path, trial_id: int):
    return read(run_dir, lambda store: store.trial(trial_id))


def events(run_dir: Path, kind: str | None = None, trial_id: int | None = None) -> list:
    return read(run_dir, lambda store: [e for e in store.events(trial_id=trial_id)
                                        if kind is None or e.kind == kind])
