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
from tuitune.engine.runs import supervisor_info
from tuitune.spec import Spec, load_spec_json
from tuitune.store import CommandRecord, RunStore


@dataclass(frozen=True)
class Reply:
    """The outcome of a command: done, rejected, or queued (no supervisor running)."""

    status: str
    message: str
    command_id: int

    @property
    def ok(self) -> bool:
        return self.status in ("done", "queued")


class RunClient:
    """A front end's handle on one run."""

    def __init__(self, run_dir: Path, actor: str = "user") -> None:
        self.run_dir = Path(run_dir)
        self.store = RunStore(self.run_dir)
        self.spec: Spec = load_spec_json(self.store.meta()["spec"])
        self.actor = actor

    def close(self) -> None:
        self.store.close()

    def supervisor_alive(self) -> bool:
        return supervisor_info(self.store).alive

    def check(self, kind: str, args: dict[str, Any]) -> dict[str, Any]:
        """Validate without sending; raises CommandError with a one-line reason."""
        return cmd.validate(kind, args, self.spec, self.store)

    def send(self, kind: str, args: dict[str, Any], wait: float = 10.0) -> Reply:
        """Validate, enqueue, and wait up to `wait` seconds for the supervisor."""
        args = self.check(kind, args)
        command_id = self.store.enqueue_command(kind, args, self.actor)
        if not self.supervisor_alive():
            return Reply("queued", "no supervisor is running this run; it will be carried "
                         f"out by `tuitune resume {self.run_dir.name}`", command_id)
        deadline = time.monotonic() + wait
        record: CommandRecord | None = None
        while time.monotonic() < deadline:
            record = self.store.command(command_id)
            if record and record.status != "pending":
                return Reply(record.status, record.result or "", command_id)
            time.sleep(0.05)
        return Reply("pending", "sent; the supervisor has not answered yet", command_id)
