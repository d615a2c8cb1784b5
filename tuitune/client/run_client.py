"""What a front end (CLI, TUI) uses to read a run and send it commands.

Front ends never act on trials themselves: they validate a command (so bad input
fails at once and changes nothing), enqueue it in the store, and wait for the
supervisor's answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuitune.engine import commands as cmd
from tuitune.engine.refusals import refusal
from tuitune.engine.runs import SUPERVISOR_LOG, ensure_supervisor, supervisor_info
from tuitune.core.history import ACTIVE_STATES
from tuitune.core.spec import Spec, load_spec_json
from tuitune.store import CommandRecord, RunStore


#: Statuses of a command the supervisor has not answered yet.
OPEN = ("pending", "taken")


@dataclass(frozen=True)
class Reply:
    """The outcome of a command: done, rejected (invalid, or no supervisor could be
    started to carry it out), failed (it raised, or a supervisor died carrying it out)
    or pending (no answer in time)."""

    status: str
    message: str
    command_id: int

    @property
    def ok(self) -> bool:
        return self.status == "done"

    @property
    def explanation(self) -> str:
        """A not-ok answer as a front end says it (a failure names its command)."""
        return self.message if self.status == "failed" else f"refused: {self.message}"


class RunClient:
    """A front end's handle on one run."""

    def __init__(self, run_dir: Path, actor: str = "user") -> None:
        self.run_dir = Path(run_dir)
        self.store = RunStore(self.run_dir)
        try:
            self.spec: Spec = load_spec_json(self.store.meta()["spec"])
        except BaseException:  # a damaged store: let go of it before saying so
            self.store.close()
            raise
        self.actor = actor

    def close(self) -> None:
        self.store.close()

    def supervisor_alive(self) -> bool:
        return supervisor_info(self.store).alive

    def check(self, kind: str, args: dict[str, Any]) -> dict[str, Any]:
        """Validate without sending; raises CommandError with a one-line reason."""
        return cmd.validate(kind, args, self.spec, self.store)

    def refusal(self, kind: str, trial_id: int, from_checkpoint: bool = False) -> str | None:
        """Why `kind` would be refused on the trial in its state now (None: it would not);
        for asking before anything else (a confirmation, a form, parsing values)."""
        trial = self.store.trial(trial_id)
        if trial is None:
            return f"no trial {trial_id} in this run"
        return refusal(kind, trial, self.spec, self.store, from_checkpoint=from_checkpoint)

    def send(self, kind: str, args: dict[str, Any], wait: float = 10.0) -> Reply:
        """Validate, enqueue, and wait up to `wait` seconds for the supervisor. A run
        without a live supervisor (finished, or its supervisor died) gets one started,
        so every action works on every run."""
        args = self.check(kind, args)
        if kind == "stop" and (said := self._nothing_to_stop()):
            # A supervisor started only to stop would overwrite how the run ended.
            return Reply("done", said, 0)
        command_id = self.store.enqueue_command(kind, args, self.actor)
        deadline = time.monotonic() + wait
        starts = 0
        record: CommandRecord | None = None
        while time.monotonic() < deadline:
            record = self.store.command(command_id)
            if record and record.status not in OPEN:
                return Reply(record.status, record.result or "", command_id)
            if not self.supervisor_alive():
                # Twice at most: a supervisor may finish just as the command arrives.
                # Whether it worked shows in the command's answer, read above.
                if starts < 2:
                    starts += 1
                    ensure_supervisor(self.run_dir)
                    deadline = max(deadline, time.monotonic() + wait)
                    continue
                if self.store.take_command(command_id):
                    # Withdrawn, so that it cannot fire unexpectedly at a later resume.
                    said = (f"no supervisor could be started for this run (see "
                            f"{self.run_dir / SUPERVISOR_LOG}); nothing was done")
                    self.store.finish_command(command_id, "rejected", said)
                    return Reply("rejected", said, command_id)
            time.sleep(0.05)
        return Reply("pending", "sent; the supervisor has not answered yet", command_id)

    def _nothing_to_stop(self) -> str | None:
        meta = self.store.meta(["state", "finished_reason"])
        if meta.get("state") != "finished" or self.supervisor_alive() or (
                self.store.count_trials(ACTIVE_STATES)):
            return None
        return f"run {self.run_dir.name} has already finished ({meta.get('finished_reason')})"
