"""Sending hand actions: validated by the engine's own check, sent from a worker
thread (the supervisor may take seconds to answer), the answer shown."""

from __future__ import annotations

import argparse
import shlex
from functools import partial
from pathlib import Path
from typing import Any

from tuitune.client.run_client import Reply, RunClient
from tuitune.engine.commands import COMMAND_KINDS, CommandError
from tuitune.ui.context import SendCommand
from tuitune.ui.messages import CommandAnswered


class Commanding:
    """Mixin for the run app: `check_command`, `refusal`, sending a screen's command
    and showing the answer."""

    run_dir: Path
    _check_client: RunClient | None = None

    def _checker(self) -> RunClient:
        if self._check_client is None:
            self._check_client = RunClient(self.run_dir)
        return self._check_client

    def check_command(self, kind: str, args: dict[str, Any]) -> str | None:
        """The engine's validation of a command, as an error line (None if valid)."""
        try:
            self._checker().check(kind, args)
        except CommandError as exc:
            return str(exc)
        return None

    def command_from_line(self, kind: str, line: str) -> dict[str, Any] | str:
        """A command's arguments from a line typed as its `tuitune KIND RUN` arguments
        (the declared CLI form parses it), checked by the engine; or an error line."""
        form = next(k for k in COMMAND_KINDS if k.name == kind).cli
        parser = _RaisingParser(prog=f"tuitune {form.name}", add_help=False)
        form.arguments(parser)
        try:
            payloads = form.payloads(parser.parse_args(shlex.split(line)), self._checker())
        except (ValueError, CommandError) as exc:  # SpaceError and argparse's are ValueErrors
            return str(exc)
        if len(payloads) != 1:
            return "one change at a time"
        return self.check_command(kind, payloads[0]) or payloads[0]

    def run_meta(self, keys: list[str]) -> dict[str, Any]:
        """Values from the run's meta (the space revisions, the budget in effect)."""
        return self._checker().store.meta(keys)

    def refusal(self, kind: str, trial_id: int, from_checkpoint: bool = False) -> str | None:
        """Why the engine would refuse `kind` on the trial in its state now (None: it
        would not): asked before any form or confirmation opens."""
        return self._checker().refusal(kind, trial_id, from_checkpoint)

    def on_send_command(self: Any, message: SendCommand) -> None:
        """A screen's command, sent from a worker thread: the supervisor may take
        seconds to answer."""
        kind, args = message.kind, message.args
        self.notify(f"{kind}: sent", timeout=1.5)
        self.run_worker(partial(self._send, kind, args), name=f"send-{kind}", group="commands",
                        thread=True, exit_on_error=False)

    def _send(self: Any, kind: str, args: dict[str, Any]) -> None:
        try:
            client = RunClient(self.run_dir)
        except Exception as exc:
            self.post_message(CommandAnswered(kind, args, Reply("error", str(exc), 0)))
            return
        try:
            reply = client.send(kind, args)
        except CommandError as exc:
            reply = Reply("rejected", str(exc), 0)
        except Exception as exc:  # a store error must reach the user, not kill the app
            reply = Reply("error", f"{type(exc).__name__}: {exc}", 0)
        finally:
            client.close()
        self.post_message(CommandAnswered(kind, args, reply))

    def on_command_answered(self: Any, message: CommandAnswered) -> None:
        reply = message.reply
        if reply.status == "done":
            # A hand action outside the space in effect is done with warnings (lines of
            # their own, starting "warning: "): each a toast of its own, or it is cut off
            # after the parameters.
            lines = (reply.message or f"{message.kind}: done").splitlines()
            warnings = [line for line in lines if line.startswith("warning: ")]
            self.notify("\n".join(line for line in lines if line not in warnings))
            for warning in warnings:
                self.notify(warning, severity="warning", timeout=10)
        elif reply.status in ("queued", "pending"):
            self.notify(reply.message, severity="warning", timeout=6)
        else:
            failed = reply.status == "failed"  # its message names the command
            self.notify(reply.message if failed else f"{message.kind} refused: {reply.message}",
                        severity="error", timeout=8)
        if self.store_loop is not None:
            self.store_loop.wake()


class _RaisingParser(argparse.ArgumentParser):
    """argparse that raises its error line instead of exiting (a form shows it)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ValueError(message)
