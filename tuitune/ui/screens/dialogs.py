"""Small modal dialogs: confirm, note, pick a metric.

Every dialog answers to letters and Enter; Escape also cancels, but nothing
needs it (over a slow link a bare Escape arrives late).
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tuitune.ui.widgets import live_text
from tuitune.ui.widgets.live_text import LiveText


class ConfirmDialog(ModalScreen[bool]):
    """Yes or no before an action that destroys work. `y` confirms, `n` cancels.

    A `detail` given as a function is read again with every poll (it watches the app's
    frame), so the numbers it shows (a trial's step, the trials left) are the ones on
    the screen behind it.
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape,ctrl+c", "answer(False)", "Cancel", show=False),
    ]

    def __init__(self, question: str, detail: live_text.Text = "", yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title", markup=False)
            if self.detail:
                yield LiveText(self.detail, classes="dialog-detail")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="yes", compact=True)
                yield Button("No (n)", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class NoteDialog(ModalScreen[str | None]):
    """Free text on a trial; Enter saves (an empty note clears it)."""

    # priority: a focused Input would take ctrl+c as "copy"
    BINDINGS = [Binding("escape,ctrl+c", "cancel", "Cancel", show=False, priority=True)]

    def __init__(self, trial_id: int, note: str) -> None:
        super().__init__()
        self.trial_id = trial_id
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Note on trial {self.trial_id}", classes="dialog-title")
            yield Input(self.note, placeholder="what you noticed, why you killed it…",
                        id="note", compact=True)
            yield Static("Enter saves · Esc cancels · the note shows in the table and "
                         "in exports", classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PickDialog(ModalScreen[str | None]):
    """Choose one of a list (metrics): arrows and Enter."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False),
                Binding("q", "cancel", "Cancel", show=False)]

    def __init__(self, title: str, choices: Sequence[str], current: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.choices = list(choices)
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield OptionList(*[Option(c, id=c) for c in self.choices], id="choices",
                             markup=False)

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        if self.current in self.choices:
            options.highlighted = self.choices.index(self.current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
