"""The executor seam: how the engine starts and controls a trial, wherever it runs."""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LaunchRequest:
    """Everything needed to start one trial. `argv` is never given to a shell."""

    trial_id: int
    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]
    trial_dir: Path
    log_path: Path


@dataclass(frozen=True)
class TrialHandle:
    """Identifies a started trial. (pid, start time) together name a process: a pid
    alone may have been reused by another program since."""

    trial_id: int
    pid: int
    pid_start: float
    node: str = "local"
    trial_dir: str = ""
    descendants: tuple[tuple[int, float], ...] = field(default=())


@dataclass(frozen=True)
class Exit:
    """How a trial process ended. `code` is None when it could not be known; `lost`
    means the executor lost the trial (its remote node or actor died): what it
    reported until then is kept, and it can be re-queued from its last checkpoint.
    `launcher_killed` means the trial's launcher died before the trainer (a signal
    from outside, or the engine's own SIGKILL); `orphans_ended` counts the trial's
    processes that were still running then and were ended."""

    code: int | None
    signal: int | None = None
    lost: bool = False
    launcher_killed: bool = False
    orphans_ended: int = 0


class Executor(ABC):
    """Starts trials and acts on them when the engine says so."""

    @abstractmethod
    def start(self, request: LaunchRequest) -> TrialHandle:
        """Start the trial in its own process group. Raises OSError if it cannot."""

    @abstractmethod
    def poll(self, handle: TrialHandle) -> Exit | None:
        """None while the trial runs; its Exit once it ended."""

    @abstractmethod
    def pause(self, handle: TrialHandle) -> None: ...

    @abstractmethod
    def resume(self, handle: TrialHandle) -> None: ...

    @abstractmethod
    def terminate(self, handle: TrialHandle) -> None:
        """Ask the whole tree to end (SIGTERM); the engine escalates later."""

    @abstractmethod
    def kill(self, handle: TrialHandle) -> None:
        """End the whole tree now (SIGKILL)."""

    @abstractmethod
    def adopt(self, handle: TrialHandle) -> bool:
        """Take over a trial started by an earlier supervisor; False if it is gone."""

    def find_launch(self, trial_id: int, token: str, trial_dir: Path
                    ) -> TrialHandle | Exit | None:
        """A start the engine recorded the intent of (`token` in the trial's
        environment) but not the outcome: the handle if a process of it runs, its
        Exit if it ran and ended, None if it never started. Executors that cannot
        tell return None (the engine then starts the trial only if it left no trace)."""
        return None

    def pump(self, store: Any) -> None:
        """Called every supervisor tick. Executors whose trials cannot reach the run
        store (remote nodes) move relayed reports in and control state out here."""

    def tree_alive(self, handle: TrialHandle) -> bool:
        """True while any process of the trial may still run (after the leader exited)."""
        return False

    def refresh_trees(self, handles: list[TrialHandle]) -> list[TrialHandle]:
        """`refresh_tree` for many trials; executors may do it in one pass."""
        return [self.refresh_tree(h) for h in handles]

    def refresh_tree(self, handle: TrialHandle) -> TrialHandle:
        """The handle with its current descendants recorded (for later kills)."""
        return handle

    def close(self) -> None:
        """Release resources; running trials are left running."""


class SignalExecutor(Executor):
    """An executor that acts on a trial by signals to its process tree: pause, resume
    and terminate then mean the same for every such executor (the fake one included,
    so tests see what the real one does)."""

    @abstractmethod
    def _signal(self, handle: TrialHandle, sig: int) -> None:
        """Send `sig` to the trial's whole tree; nothing if it is gone."""

    def pause(self, handle: TrialHandle) -> None:
        self._signal(handle, signal.SIGSTOP)

    def resume(self, handle: TrialHandle) -> None:
        self._signal(handle, signal.SIGCONT)

    def terminate(self, handle: TrialHandle) -> None:
        self._signal(handle, signal.SIGTERM)
        # A stopped process only acts on SIGTERM once continued.
        self._signal(handle, signal.SIGCONT)
