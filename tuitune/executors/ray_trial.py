"""One remote trial as the Ray executor sees it: an explicit state machine.

    WAITING ──placed──► RUNNING ──exited──► EXITING ──tree gone──► ENDED
       │                  │  └──────exited, tree gone────────────────▲
       │                  └─────────────┬────────────────────────────┘
       └─never ran─► NEVER_RAN          └──node or actor died──► LOST

WAITING: its start call is out, no node has taken it yet (Ray queues it).
RUNNING: on its node; its reports are pulled. EXITING: the trainer exited, some
process of its tree still runs (still pulled). ENDED: nothing of it runs (its actor
is released once the engine has seen the exit). NEVER_RAN: it ended before any
node took it (it could not start, waited too long, or was killed while waiting):
there is no actor to talk to. LOST: its node or actor died.
No Ray import here: the states are tested without a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from tuitune.executors.base import Exit, TrialHandle
from tuitune.executors.ray_checkpoints import CheckpointFetch

PENDING = "pending"  # the node of a trial that waits for one


class Phase(Enum):
    WAITING = "waiting"
    RUNNING = "running"
    EXITING = "exiting"
    ENDED = "ended"
    NEVER_RAN = "never ran"
    LOST = "lost"


#: The transitions a trial may make; any other is a bug (IllegalTransition).
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.WAITING: frozenset({Phase.RUNNING, Phase.NEVER_RAN, Phase.LOST}),
    Phase.RUNNING: frozenset({Phase.EXITING, Phase.ENDED, Phase.LOST}),
    Phase.EXITING: frozenset({Phase.ENDED, Phase.LOST}),
    Phase.ENDED: frozenset({Phase.LOST}),  # its node died before the engine saw the exit
    Phase.NEVER_RAN: frozenset(),
    Phase.LOST: frozenset(),
}


class IllegalTransition(RuntimeError):
    pass


@dataclass
class Relay:
    """Where the pulls of the trial's reports stand."""

    cursor: dict[str, int] | None = None  # end of the last stored answer
    pending: Any = None  # the outstanding pull
    retry_at: float = 0.0
    more: bool = False  # the node has more to say at once
    api_seen: bool = False
    adopted: bool = False  # an earlier supervisor may have stored some of the next answer
    log_backlog: bytes = b""  # output pulled but not yet appended to the log copy


@dataclass
class RemoteTrial:
    """What the executor knows about one remote trial."""

    actor: Any
    handle: TrialHandle
    trial_dir: Path  # on this machine: log copy, fetched checkpoints
    phase: Phase = Phase.WAITING
    node_id: str = ""
    exit: tuple[int | None, int | None] | None = None  # (code, signal), once known
    lost_why: str = ""
    start_error: str = ""
    # While WAITING: the start call, since when, what it asks of a node.
    starting: Any = None
    waiting_since: float = 0.0
    asks: dict[str, float] = field(default_factory=dict)
    pause_wanted: bool = False
    placed_unrecorded: bool = False  # placed after its supervisor died: store the pid
    relay: Relay = field(default_factory=Relay)
    checkpoint: CheckpointFetch = field(default_factory=CheckpointFetch)
    control: tuple[bool, tuple[tuple[int, str, Any], ...]] | None = None  # last pushed
    polled_at: float = 0.0
    exit_returned_at: float | None = None  # when poll() first gave the engine its exit
    said: set[str] = field(default_factory=set)

    @property
    def trial_id(self) -> int:
        return self.handle.trial_id

    # -- transitions ----------------------------------------------------------------------
    def _to(self, phase: Phase) -> None:
        if phase not in TRANSITIONS[self.phase]:
            raise IllegalTransition(f"trial {self.trial_id}: {self.phase.value} -> "
                                    f"{phase.value}")
        self.phase = phase

    def placed(self, handle: TrialHandle, node_id: str) -> None:
        """A node took it and started it."""
        self._to(Phase.RUNNING)
        self.starting, self.handle, self.node_id = None, handle, node_id

    def never_ran(self, code: int | None, sig: int | None, error: str = "") -> None:
        """It ended before any node took it; no actor is left to talk to."""
        self._to(Phase.NEVER_RAN)
        self.starting, self.exit, self.start_error = None, (code, sig), error

    def reported(self, exit: tuple[int | None, int | None] | None, tree_alive: bool) -> None:
        """What its node said: how the trainer ended (None: it runs) and whether any
        process of its tree still runs."""
        if exit is not None:
            self.exit = exit
        if self.exit is None or self.phase is Phase.LOST:  # lost stays lost
            return
        target = Phase.EXITING if tree_alive else Phase.ENDED
        if target != self.phase:
            self._to(target)

    def lose(self, why: str) -> None:
        if self.phase is not Phase.LOST:
            self._to(Phase.LOST)
            self.lost_why = why

    # -- questions ------------------------------------------------------------------------
    @property
    def has_actor(self) -> bool:
        """An actor that answers may still be there (signals, control, release)."""
        return self.phase not in (Phase.NEVER_RAN, Phase.LOST)

    @property
    def tree_alive(self) -> bool:
        return self.phase in (Phase.WAITING, Phase.RUNNING, Phase.EXITING)

    def may_pull(self, now: float) -> bool:
        return (self.phase in (Phase.RUNNING, Phase.EXITING) and self.relay.pending is None
                and now >= self.relay.retry_at)

    def takes_control(self) -> bool:
        """Stop requests and tweaks are pushed only while its trainer may read them."""
        return self.phase in (Phase.WAITING, Phase.RUNNING)

    def outcome(self) -> Exit | None:
        """Its Exit for the engine: lost, or how the trainer ended; None while it runs."""
        if self.phase is Phase.LOST:
            return Exit(None, lost=True)
        return None if self.exit is None else Exit(*self.exit)
