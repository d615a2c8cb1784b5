"""A form that takes a command's arguments as its `tuitune` subcommand does: the space
(`S`) and budget (`B`) forms. One line is typed (`lr=0.01..0.1 --log`, `--more 10
--max-concurrent 4`); the command's own CLI form parses it (engine/commands.py: one
declaration, so the TUI and the shell accept the same words), and the engine's check
answers before the form closes. Above the line: what is in effect now (its numbers
follow the run), and examples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Static

from tuitune.ui.screens.form_screen import FormScreen
from tuitune.ui.widgets import live_text
from tuitune.ui.widgets.live_text import LiveText

#: Returns the command's arguments for the typed line, or an error line.
LineParser = Callable[[str], dict[str, Any] | str]


class CommandLineForm(FormScreen[dict[str, Any] | None]):
    BINDINGS = [Binding("escape,ctrl+c", "cancel", "Cancel", show=False, priority=True)]

    def __init__(self, title: str, now: Sequence[live_text.Text], examples: Sequence[str],
                 parse: LineParser, placeholder: str = "") -> None:
        super().__init__()
        self.title_text, self.now, self.examples = title, list(now), list(examples)
        self.parse, self.placeholder = parse, placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog form"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            with VerticalScroll(classes="form-now"):  # a big space scrolls, the line stays
                for line in self.now:  # a function: read again at every poll
                    yield LiveText(line, classes="dialog-hint")
            yield Input("", placeholder=self.placeholder, id="line", compact=True)
            # One example a line: side by side they were cut off at 80 columns.
            yield Static("\n".join(f"e.g. {e}" for e in self.examples),
                         classes="form-examples", markup=False)
            yield Static("", id="form-error", classes="form-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Apply (enter)", variant="primary", id="ok", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#line", Input).focus()

    def action_submit(self) -> None:
        result = self.parse(self.query_one("#line", Input).value)
        error = self.query_one("#form-error", Static)
        if isinstance(result, str):
            error.update(result)
            error.set_class(True, "shown")  # .form-error is display: none until shown
            return
        self.dismiss(result)
