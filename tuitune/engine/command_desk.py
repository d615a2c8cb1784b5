"""Command handling, the supervisor's part that carries out what front ends ask.

Each pending command is marked taken (in the store, before anything is done), carried
out by its kind's handler (engine/commands.py), and answered: done, rejected (invalid
now) or failed (the handler raised: the error boundary). Taken comes first, so a
supervisor killed while acting never carries a command out again; the next one answers
it as interrupted. Answers a full disk refused are kept here and written first next time.
"""

from __future__ import annotations

from tuitune.engine.boundary import ErrorBoundary, one_line
from tuitune.engine.command_kind import CommandError, Engine
from tuitune.engine.commands import command_kind
from tuitune.engine.crash_points import crash_point
from tuitune.store import CommandRecord


class CommandDesk:
    def __init__(self, engine: Engine, boundary: ErrorBoundary) -> None:
        self.engine, self.boundary = engine, boundary
        self._answers: dict[int, tuple[str, str]] = {}  # command id -> answer not yet written

    def handle(self) -> None:
        """Each pending command: marked taken, carried out, answered."""
        store = self.engine.store
        self._flush_answers()
        for c in store.pending_commands():
            if not store.take_command(c.id):
                continue
            crash_point("command.taken")
            status, result = self._carry_out(c)
            crash_point("command.acted")
            self._answers[c.id] = (status, result)
            self._flush_answers()
            crash_point("command.answered")

    def _carry_out(self, c: CommandRecord) -> tuple[str, str]:
        try:
            kind = command_kind(c.kind)
            args = kind.validate(dict(c.args), self.engine.spec, self.engine.store)
            return "done", kind.handle(self.engine, args, c.actor)
        except CommandError as exc:
            return "rejected", str(exc)
        except Exception as exc:  # the boundary: no command takes the supervisor down
            self.boundary.log_traceback(exc)
            return "failed", f"{c.kind} failed: {one_line(exc)}"

    def _flush_answers(self) -> None:
        """Write the answers not yet written (a full disk may have refused them)."""
        for command_id, (status, result) in list(self._answers.items()):
            self.engine.store.finish_command(command_id, status, result)
            del self._answers[command_id]

    def answer_interrupted(self) -> None:
        """Commands an earlier supervisor took and never answered: failed, not run again."""
        for c in self.engine.store.taken_commands():
            self.engine.store.finish_command(
                c.id, "failed", f"{c.kind} interrupted: the supervisor stopped while carrying "
                "it out; it is not run again (`tuitune status` and `tuitune events` show "
                "what it did)")
