"""Hand actions, shared by the run screen and the trial detail screen.

Each action only builds an engine command (the same ones the CLI sends), asks
for confirmation where it destroys work, and hands it to the app, which sends
it from a worker thread and shows the supervisor's answer. Nothing here signals
a process or writes to the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

from textual.binding import Binding
from textual.screen import Screen

from tuitune.core.space import Param, Space, SpaceError
from tuitune.core.strategies import available_rules, available_strategies
from tuitune.core.trial_state import ACTIVE_STATES, TrialState
from tuitune.engine.commands import COMMAND_KINDS
from tuitune.engine.rules_edit import META_KEY as RULES_KEY
from tuitune.engine.rules_edit import current_rules
from tuitune.ui import fmt
from tuitune.ui.context import OnRun, SendCommand
from tuitune.ui.records import TrialRow
from tuitune.ui.screens.command_line_form import CommandLineForm
from tuitune.ui.screens.dialogs import ConfirmDialog, NoteDialog
from tuitune.ui.screens.handoff import HandoffForm
from tuitune.ui.screens.param_form import Checkpoint, FormResult, ParamForm

#: Keys of the hand actions, as the command kinds declare them (engine/commands.py); the
#: footer shows those with show=True, the palette lists them all. Each names an action_*
#: method below.
HAND_BINDINGS = [
    Binding(key.key, key.action, key.description, show=key.show, tooltip=key.tooltip)
    for kind in COMMAND_KINDS for key in kind.keys
]


#: How long a value sent by the LR keys counts as the current one.
_PENDING_S = 10.0


def learning_rate(space: Space) -> Param | None:
    """The parameter the LR keys scale: a mutable float whose role is the learning
    rate (declared, or read from its name), else the first mutable log-scale float."""
    floats = [p for p in space if p.mutable and p.kind == "float"]
    return (next((p for p in floats if p.role == "learning_rate"), None)
            or next((p for p in floats if getattr(p, "log", False)), None))


class HandActions(OnRun):
    """Mixin for screens: needs `selected_row()`; asks the run's checks, posts the
    commands (SendCommand) for the app to send."""

    def selected_row(self) -> TrialRow | None:  # pragma: no cover - provided by the screen
        raise NotImplementedError

    def _lr_pending(self) -> dict[tuple[int, str], tuple[Any, float]]:
        """Tweaks sent by the LR keys, by (trial, parameter): (value, when)."""
        return self.__dict__.setdefault("_sent_lr", {})

    # -- helpers ---------------------------------------------------------------------------
    def _send(self, kind: str, args: dict[str, Any]) -> None:
        cast(Screen, self).post_message(SendCommand(kind, args))

    def _need_row(self, verb: str) -> TrialRow | None:
        row = self.selected_row()
        if row is None:
            self.app.notify(f"select a trial to {verb} first", severity="warning")
        return row

    def _allowed(self, kind: str, row: TrialRow) -> bool:
        """Say at once why the engine would refuse (before any form or dialog)."""
        reason = self.run.refusal(kind, row.id)
        if reason:
            self.app.notify(reason, severity="warning")
        return reason is None

    def _checker(self, kind: str, build):
        def check(result: FormResult) -> str | None:
            return self.run.check_command(kind, build(result))
        return check

    def _form_params(self, mutable_only: bool = False) -> list[Param]:
        return [p for p in self.run.spec.space
                if p.kind != "fixed" and (p.mutable or not mutable_only)]

    # -- actions -------------------------------------------------------------------------
    def action_new_trial(self) -> None:
        row = self.selected_row()
        values = dict(row.current) if row else self._space_now().defaults()

        def build(r: FormResult) -> dict[str, Any]:
            return {"params": r.values}

        source = f"prefilled from trial {row.id}" if row else "prefilled with the defaults"
        edited = self._edited_ranges()
        if edited:
            source += "; the ranges of the space in effect (outside: allowed, with a warning)"
        form = ParamForm("New trial", self._form_params(), values,
                         self._checker("new", build), note=source, submit="Start",
                         space=self.run.spec.space, described=edited)
        self.app.push_screen(form, lambda r: r and self._send("new", build(r)))

    def action_clone(self) -> None:
        row = self._need_row("clone")
        if row is None:
            return

        def build(r: FormResult) -> dict[str, Any]:
            return {"trial_id": row.id, "set": r.changed, "from_checkpoint": r.from_checkpoint}

        refusals: dict[tuple[int | None, str], str | None] = {}

        def checkpoint() -> Checkpoint:  # read at every poll: the trial saves on meanwhile
            now = self.run.view.rows.get(row.id, row)
            key = (now.checkpoint_step, now.state)
            if key not in refusals:  # the engine's check reads the store: once per change
                refusals[key] = self.run.refusal("clone", row.id, True)
            return now.checkpoint_step, refusals[key]

        form = ParamForm(f"Clone trial {row.id}", self._form_params(), row.current,
                         self._checker("clone", build), checkpoint=checkpoint, submit="Clone",
                         note="edit parameters or keep them; tab reaches the checkpoint box",
                         space=self.run.spec.space, described=self._edited_ranges())
        self.app.push_screen(form, lambda r: r and self._send("clone", build(r)))

    def action_tweak(self) -> None:
        row = self._need_row("tweak")
        if row is None:
            return
        params = self._form_params(mutable_only=True)
        if not params:
            self.app.notify("no parameter is mutable: mark one `mutable = true` in the spec, "
                            "or clone the trial with changes (c)", severity="warning")
            return
        if not self._allowed("tweak", row):
            return

        def build(r: FormResult) -> dict[str, Any]:
            return {"trial_id": row.id, "set": r.changed}

        def check(r: FormResult) -> str | None:
            if not r.changed:
                return "nothing changed"
            return self.run.check_command("tweak", build(r))

        form = ParamForm(f"Tweak trial {row.id} (applies at its next step)", params,
                         row.current, check, submit="Tweak", space=self.run.spec.space)
        self.app.push_screen(form, lambda r: r and self._send("tweak", build(r)))

    def action_scale_lr(self, factor: float) -> None:
        row = self._need_row("tweak")
        if row is None or not self._allowed("tweak", row):
            return
        param = learning_rate(self.run.spec.space)
        if param is None:
            self.app.notify("no mutable learning-rate parameter in this spec",
                            severity="warning")
            return
        current = self._requested(row, param.name)
        if not isinstance(current, (int, float)):
            self.app.notify(f"trial {row.id} has no {param.name}", severity="warning")
            return
        target = float(current) * factor
        try:
            value = param.validate(target)
        except SpaceError as exc:
            self.app.notify(f"{exc}", severity="error")
            return
        args = {"trial_id": row.id, "set": {param.name: value}}
        error = self.run.check_command("tweak", args)
        if error:
            self.app.notify(error, severity="error")
            return
        # Pressed again before the store shows this one: scale from it, not the old value.
        self._lr_pending()[(row.id, param.name)] = (value, time.monotonic())
        self._send("tweak", args)

    def _requested(self, row: TrialRow, name: str) -> Any:
        """The newest value asked for: a tweak sent moments ago, a pending one, or the
        current value."""
        sent = self._lr_pending().get((row.id, name))
        if sent is not None and time.monotonic() - sent[1] < _PENDING_S:
            return sent[0]
        asked = [c.value for c in row.changes if c.name == name]
        return asked[-1] if asked else row.current.get(name)

    def action_kill(self) -> None:
        row = self._need_row("kill")
        if row is None or not self._allowed("kill", row):
            return
        def detail() -> str:  # read at every poll: the row behind it moves on
            now = self.run.view.rows.get(row.id, row)
            return (f"{now.state}, step {fmt.value(now.step)}, best {fmt.value(now.best)}. "
                    "Its process group gets SIGTERM, then SIGKILL after the grace period.")
        self._confirmed(f"Kill trial {row.id}?", detail, "Kill", "kill", {"trial_id": row.id})

    def action_pause(self) -> None:
        row = self._need_row("pause")
        if row is None:
            return
        kind = "resume" if row.state == TrialState.PAUSED else "pause"
        if self._allowed(kind, row):
            self._send(kind, {"trial_id": row.id})

    def action_note(self) -> None:
        row = self._need_row("annotate")
        if row is None:
            return
        self.app.push_screen(
            NoteDialog(row.id, row.note),
            lambda text: text is not None and self._send(
                "note", {"trial_id": row.id, "text": text}))

    def action_star(self) -> None:
        row = self._need_row("star")
        if row is not None:
            self._send("star", {"trial_id": row.id, "value": not row.starred})

    def action_protect(self) -> None:
        row = self._need_row("protect")
        if row is not None:
            self._send("protect", {"trial_id": row.id, "value": not row.protected})

    def action_requeue(self) -> None:
        row = self._need_row("requeue")
        if row is None:
            return
        error = self.run.check_command("requeue", {"trial_id": row.id})
        if error:
            self.app.notify(error, severity="error")
            return
        self._send("requeue", {"trial_id": row.id})

    def action_handoff(self) -> None:
        header = self.run.view.header
        if header is None:
            return
        rules = current_rules(self.run.spec, self.run.run_meta([RULES_KEY]))
        form = HandoffForm(available_strategies(), header.strategy, self._trials_so_far,
                           header.max_trials, header.max_concurrent,
                           lambda args: self.run.check_command("handoff", args),
                           available_rules(), rules)
        self.app.push_screen(form, lambda a: a and self._send("handoff", a))

    def _edited_ranges(self) -> dict[str, str]:
        """Parameters whose range a space edit changed, described as they are now."""
        spec, now = self.run.spec.space, self._space_now()
        return {p.name: p.describe() for p in now.params
                if p.name in spec and p.describe() != spec[p.name].describe()}

    def _space_now(self) -> Space:
        """The search space in effect (the latest `tuitune space` revision)."""
        from tuitune.engine.space_edit import META_KEY, current_space

        return current_space(self.run.spec, self.run.run_meta([META_KEY]))

    def action_edit_space(self) -> None:
        from tuitune.engine.space_edit import (
            META_KEY,
            current_revision,
            current_space,
            usage_examples,
        )

        meta = self.run.run_meta([META_KEY])  # one read: the revision and its space
        space = current_space(self.run.spec, meta)
        now = [f"revision {current_revision(meta)}:"] + [
            f"  {p.name}: {p.describe()}" for p in space.params]
        self.app.push_screen(
            CommandLineForm("Change the search space (running trials are not touched)", now,
                            usage_examples(space, self.run.spec.space),
                            lambda line: self.run.command_from_line("space", line),
                            "what follows: tuitune space RUN"),
            lambda a: a and self._send("space", a))

    def action_change_budget(self) -> None:
        from tuitune.engine.budget_edit import KEYS, current_budget, describe

        budget = current_budget(self.run.spec, self.run.run_meta(list(KEYS)))

        def now() -> str:  # read at every poll: trials go on starting behind the form
            return f"{self._trials_so_far()} trials so far; " + describe(budget)
        self.app.push_screen(
            CommandLineForm("Change the budget", [now],
                            ["--more 10", "--max-trials N", "--max-concurrent 4",
                             "--trial-timeout 30m", "--experiment-timeout 2h (off: no cap)"],
                            lambda line: self.run.command_from_line("budget", line),
                            "what follows: tuitune budget RUN"),
            lambda a: a and self._send("budget", a))

    def action_stop_experiment(self) -> None:
        def detail() -> str:
            header = self.run.view.header
            live = sum(header.counts.get(s, 0) for s in ACTIVE_STATES) if header else 0
            return (f"Kills its {live} running, paused or queued trials and ends the "
                    "supervisor. (q only detaches and leaves everything running.)")
        self._confirmed("Stop the whole experiment?", detail, "Stop", "stop", {})

    def _trials_so_far(self) -> int:
        """Trials the budget has had, as the header says now."""
        header = self.run.view.header
        return header.budget_used if header is not None else 0

    def _confirmed(self, question: str, detail: Callable[[], str], yes: str, kind: str,
                   args: dict[str, Any]) -> None:
        self.app.push_screen(ConfirmDialog(question, detail, yes),
                             lambda ok: ok and self._send(kind, args))
