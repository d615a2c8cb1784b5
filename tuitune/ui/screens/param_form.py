"""The parameter form, for a new trial, a clone and a tweak.

One field per parameter, prefilled (from the selected trial or the space's
defaults) with the value as people write it (`0.2443`; a field left so stands for
the exact value, `0.24434660919228307`), checked against the space as you type. On Enter the whole request
is validated by the engine's own check (`RunClient.check`), whose one-line
reason shows in the form; only a valid request leaves it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, Static

from tuitune.core.space import Param, Space, SpaceError
from tuitune.ui import fmt
from tuitune.ui.context import Frame, watch_frames
from tuitune.ui.screens.form_screen import FormScreen
from tuitune.ui.widgets.ticks import FormCheckbox


@dataclass(frozen=True)
class FormResult:
    """What the user asked for: every field's value, and which ones changed."""

    values: dict[str, Any]
    changed: dict[str, Any]
    from_checkpoint: bool = False


#: Builds the command from a result and checks it: returns an error line or None.
Checker = Callable[[FormResult], str | None]

#: A trial's latest checkpoint as a clone form offers it: its step (None: none saved
#: yet) and why a clone from it would be refused (None: it would not).
Checkpoint = tuple[int | None, str | None]


class ParamForm(FormScreen[FormResult | None]):
    """Edit parameters. Enter submits from any field; Esc or ctrl+c cancels."""

    BINDINGS = [
        # priority: a focused Input would take ctrl+c as "copy" (its prefill is selected)
        Binding("escape,ctrl+c", "cancel", "Cancel", show=False, priority=True),
        Binding("enter", "submit", "Submit", show=False),
    ]

    def __init__(self, title: str, params: Sequence[Param], values: Mapping[str, Any],
                 checker: Checker, *, checkpoint: Callable[[], Checkpoint] | None = None,
                 note: str = "", submit: str = "Start", space: Space | None = None,
                 described: Mapping[str, str] | None = None) -> None:
        """`checkpoint`: offer a clone from the trial's latest checkpoint; read again at
        every poll, so the step it names is the one a clone would start from (the
        trial goes on saving while the form is open)."""
        super().__init__()
        # With conditional parameters: only those whose conditions hold are shown,
        # re-checked as the fields they depend on change.
        self.space = space if space is not None and space.conditional else None
        self.title_text = title
        self.params = list(params)
        self.initial = dict(values)
        self.checker = checker
        self.checkpoint = checkpoint
        self.checkpoint_step, self.checkpoint_refusal = (  # refusal: why a clone from it
            checkpoint() if checkpoint is not None else (None, None))  # is refused
        self.note = note
        self.submit_label = submit
        # A parameter's range as shown, where it is not the spec's (a space revision's).
        self.described = dict(described or {})

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog form"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            if self.note:
                yield Static(self.note, classes="dialog-hint", markup=False)
            with VerticalScroll(classes="form-fields"):
                shown = self._active_names(self.initial)
                for p in self.params:
                    with Horizontal(classes="form-row", id=f"r-{p.name}") as row:
                        row.display = p.name in shown
                        yield Label(p.name, classes="form-label", markup=False)
                        yield Input(self._prefill(p), id=f"p-{p.name}",
                                    classes="form-input", compact=True)
                        yield Label(self.described.get(p.name, p.describe())
                                    + (" · mutable" if p.mutable else ""),
                                    classes="form-help", markup=False)
                    yield Static("", id=f"e-{p.name}", classes="form-error", markup=False)
            if self.checkpoint is not None:
                yield FormCheckbox(self._checkpoint_label(), value=False, id="from-checkpoint",
                                   disabled=self._checkpoint_refused(), compact=True)
                yield Static(self._refusal_shown(), id="checkpoint-refusal",
                             classes="dialog-hint", markup=False)
            yield Static("", id="form-error", classes="form-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.submit_label} (enter)", variant="primary", id="ok",
                             compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        inputs = self.query(Input)
        if inputs:
            inputs.first().focus()
        if self.checkpoint is not None:
            watch_frames(self, self._polled)

    # -- the checkpoint a clone may start from ------------------------------------------
    def _checkpoint_label(self) -> str:
        step = self.checkpoint_step
        return (f"from its latest checkpoint (step {step})" if step is not None
                else "from its latest checkpoint (none saved yet)")

    def _checkpoint_refused(self) -> bool:
        return self.checkpoint_step is None or self.checkpoint_refusal is not None

    def _refusal_shown(self) -> str:
        return self.checkpoint_refusal or "" if self.checkpoint_step is not None else ""

    def _polled(self, frame: Frame) -> None:
        if not frame.polled or self.checkpoint is None:
            return
        now = self.checkpoint()
        if now == (self.checkpoint_step, self.checkpoint_refusal):
            return
        self.checkpoint_step, self.checkpoint_refusal = now
        box = self.query_one("#from-checkpoint", FormCheckbox)
        box.label = self._checkpoint_label()
        box.disabled = self._checkpoint_refused()
        if box.disabled:
            box.value = False  # refused now: never sent ticked
        refusal = self.query_one("#checkpoint-refusal", Static)
        refusal.update(self._refusal_shown())
        refusal.display = bool(self._refusal_shown())

    def _param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id and event.input.id.startswith("p-"):
            name = event.input.id[2:]
            self._show_field_error(name, self._field_error(name, event.value))
            if self.space is not None:
                self._show_active()

    def _active_names(self, values: Mapping[str, Any]) -> set[str]:
        """The form's parameters that exist with these values (all without conditions)."""
        names = {p.name for p in self.params}
        if self.space is None:
            return names
        current = {**{p.name: p.initial() for p in self.params}, **self.initial, **values}
        return names & set(self.space.active(current))

    # -- what a field shows and means ---------------------------------------------------
    def _prefill(self, p: Param) -> str:
        """A field's first text: the value as people write it (4 significant digits:
        `0.2443`, not `0.24434660919228307`, whose head a narrow field scrolled out of
        view); left as it is, it stands for the exact value (`_value`)."""
        return fmt.value(self.initial.get(p.name, p.initial()))

    def _value(self, p: Param, text: str) -> Any:
        """The value a field's text stands for: the exact prefilled value while the text
        is the prefill's (a rounded prefill is never sent back as a change), else the
        text parsed (raises SpaceError)."""
        if text == self._prefill(p):
            return self.initial.get(p.name, p.initial())
        return p.parse(text)

    def _typed_values(self) -> dict[str, Any]:
        """Every field that parses, as typed so far."""
        out: dict[str, Any] = {}
        for p in self.params:
            try:
                out[p.name] = self._value(p, self.query_one(f"#p-{p.name}", Input).value)
            except SpaceError:
                pass
        return out

    def _show_active(self) -> None:
        shown = self._active_names(self._typed_values())
        for p in self.params:
            self.query_one(f"#r-{p.name}", Horizontal).display = p.name in shown
            if p.name not in shown:
                self._show_field_error(p.name, "")

    def _field_error(self, name: str, text: str) -> str:
        try:
            self._value(self._param(name), text)
        except SpaceError as exc:
            return str(exc)
        return ""

    def _show_field_error(self, name: str, error: str) -> None:
        line = self.query_one(f"#e-{name}", Static)
        line.update(error)
        line.set_class(bool(error), "shown")
        self.query_one(f"#p-{name}", Input).set_class(bool(error), "invalid")

    def result(self) -> FormResult | None:
        """The parsed form, or None (errors shown) when a field is invalid."""
        values: dict[str, Any] = {}
        first_bad: Input | None = None
        shown = self._active_names(self._typed_values())
        for p in self.params:
            if p.name not in shown:
                continue  # its condition does not hold: the trial will not have it
            field = self.query_one(f"#p-{p.name}", Input)
            error = self._field_error(p.name, field.value)
            self._show_field_error(p.name, error)
            if error:
                first_bad = first_bad or field
                continue
            values[p.name] = self._value(p, field.value)
        if first_bad is not None:
            first_bad.focus()
            return None
        changed = {k: v for k, v in values.items() if self.initial.get(k) != v}
        boxes = self.query("#from-checkpoint")
        from_ck = bool(boxes and boxes.first(Checkbox).value)
        return FormResult(values, changed, from_ck)

    def action_submit(self) -> None:
        result = self.result()
        if result is None:
            return
        error = self.checker(result)
        line = self.query_one("#form-error", Static)
        line.update(error or "")
        line.set_class(bool(error), "shown")
        if error is None:
            self.dismiss(result)
